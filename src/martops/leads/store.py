"""Saved lead models: `<store>/v1`, `v2`, ... each holding `model.joblib` (the fitted, calibrated
scikit-learn model) and `metadata.json` (what it was trained on and how well it did).

The store is `leads.model.store`, else `<warehouse>.lead-models/` next to a DuckDB warehouse file
(`crm.duckdb` -> `crm.lead-models/`: two warehouses in one folder keep their own models, so scoring
one never picks the model trained on the other), `lead-models/` in a Spark warehouse's folder, and
`lead-models/` in the working directory for PostgreSQL. A version is written to a temporary folder and renamed into place, so a
failed save leaves no half version. joblib files are pickles: load only models this project saved
(the store is the project's own folder). A model saved by another scikit-learn version is refused
(its trees or coefficients could be read differently): retrain.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import sklearn

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError, OutputError

MODEL_FILE, META_FILE = "model.joblib", "metadata.json"
VERSION = re.compile(r"^v(\d+)$")


def folder(project: ProjectConfig, wh: Warehouse | None) -> Path:
    if project.leads.model.store:
        return Path(project.leads.model.store)
    beside = wh.files_folder("lead-models") if wh is not None else None
    return beside if beside is not None else Path("lead-models")


def versions(store: Path) -> list[int]:
    if not store.is_dir():
        return []
    return sorted(int(m.group(1)) for p in store.iterdir() if p.is_dir() and (m := VERSION.match(p.name))
                  and (p / META_FILE).is_file())


def save(store: Path, model: Any, metadata: dict) -> tuple[str, Path]:
    """Write the next version; returns (name, its folder)."""
    import joblib

    try:
        store.mkdir(parents=True, exist_ok=True)
        name = f"v{max(_any_versions(store) or [0]) + 1}"
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=store))
        meta = {**metadata, "version": name, "saved_at": dt.datetime.now().isoformat(timespec="seconds"),
                "sklearn_version": sklearn.__version__}
        joblib.dump(model, tmp / MODEL_FILE)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=_jsonable), encoding="utf-8")
        os.replace(tmp, store / name)
    except OSError as exc:
        raise OutputError(f"cannot save the model in {store}: {exc.strerror or exc} (leads.model.store)") from exc
    return name, store / name


def _any_versions(store: Path) -> list[int]:
    """Version folders even without metadata (a broken one is never overwritten)."""
    return [int(m.group(1)) for p in store.iterdir() if (m := VERSION.match(p.name))]


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def locate(project: ProjectConfig, wh: Warehouse | None, given: str | None) -> Path:
    """The version folder `--model` names (a folder, its metadata.json or model.joblib, or `v3`),
    else the store's latest."""
    store = folder(project, wh)
    if given is None:
        vs = versions(store)
        if not vs:
            raise ConfigError(f"no saved lead model in {store}; train one first: martops leads train --input FILE "
                              "--id COLUMN --label COLUMN (or pass --model PATH)")
        return store / f"v{vs[-1]}"
    p = Path(given)
    if VERSION.match(given) and not p.exists():
        p = store / given
    if p.is_file() and p.name in (MODEL_FILE, META_FILE):
        p = p.parent
    if not p.is_dir() or not (p / META_FILE).is_file() or not (p / MODEL_FILE).is_file():
        raise ConfigError(f"--model {given}: not a saved lead model (a folder with {MODEL_FILE} and {META_FILE}); "
                          f"saved versions in {store}: {', '.join(f'v{v}' for v in versions(store)) or 'none'}")
    return p


def load(path: Path) -> tuple[Any, dict]:
    import joblib

    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path / META_FILE} cannot be read as a model's metadata: {exc}") from exc
    if meta.get("sklearn_version") != sklearn.__version__:
        raise ConfigError(f"model {path} was saved with scikit-learn {meta.get('sklearn_version')}; this is "
                          f"{sklearn.__version__}: retrain it (martops leads train)")
    try:
        model = joblib.load(path / MODEL_FILE)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is one line
        raise ConfigError(f"{path / MODEL_FILE} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    return model, meta


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
