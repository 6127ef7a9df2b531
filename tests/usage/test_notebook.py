"""`notebooks/data-analysis.ipynb` runs from a clean kernel (nbclient) on a generated warehouse and on
the real sample where present, and says what the marts hold.

The kernel is the running interpreter's, declared in a kernelspec written under the test's tmp
folder (so a `python3` kernel registered elsewhere for another Python cannot be picked), and every
Jupyter and IPython folder points there too: the test writes nothing outside tmp."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from martops.config import ProjectConfig
from martops.demo.usage import UsageDemoSpec, generate
from martops.engine import connect
from martops.usage.analysis import WAREHOUSE_ENV, read_marts
from martops.usage.build import build
from tests.conftest import DATASETS, REPO
from tests.usage.test_real import MAPPING

NOTEBOOK = REPO / "notebooks" / "data-analysis.ipynb"


def _execute(tmp_path: Path, monkeypatch, warehouse: Path) -> nbformat.NotebookNode:
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_CONFIG_DIR", "config"), ("IPYTHONDIR", "ipython")):
        monkeypatch.setenv(var, str(tmp_path / "jupyter" / sub))
    monkeypatch.setenv(WAREHOUSE_ENV, str(warehouse))
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    path = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python", "env": {"PYTHONPATH": path}}))
    km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, km=km, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
                   ).execute()
    return nb


def _text(nb) -> str:
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _charts(nb) -> int:
    return sum("application/vnd.plotly.v1+json" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


def test_notebook_on_generated_data(tmp_path, monkeypatch):
    generate(tmp_path / "data.db", UsageDemoSpec(users=400, seed=4))
    warehouse = tmp_path / "usage.duckdb"
    with connect(path=str(warehouse)) as wh:
        build(wh, tmp_path / "data.db", ProjectConfig())
    marts = read_marts(warehouse)
    nb = _execute(tmp_path, monkeypatch, warehouse)
    text = _text(nb)
    s = marts.summary()
    assert f"{s['customers']:,} customers as of {s['as_of']}; {s['interactions']:,} interactions (events)" in text
    assert f"{s['excluded']:,} accounts excluded as bots or test accounts" in text and s["excluded"] > 0
    assert f"{len(marts.companies):,} companies; seats per company" in text
    assert "Usage is concentrated: the top 10% of customers make" in text
    assert _charts(nb) >= 8


def test_notebook_on_the_real_sample(tmp_path, monkeypatch):
    folder = DATASETS / "product-usage"
    if not folder.is_dir():
        pytest.skip(f"the real usage sample is not at {folder}")
    warehouse = tmp_path / "usage.duckdb"
    with connect(path=str(warehouse)) as wh:
        build(wh, folder, ProjectConfig.model_validate(yaml.safe_load(MAPPING)))
    text = _text(_execute(tmp_path, monkeypatch, warehouse))
    assert "40,126 customers as of M21; 79,034 interactions (active months)" in text
    assert "No companies: this source names no company for anyone" in text
    assert "Lower usage: 2,398 customers in the low tier and 31,000 dormant" in text
