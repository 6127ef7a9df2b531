"""The layering rule, read from the source: lower layers import no domain.

Data flows sources -> staging -> checks -> marts -> outputs, and the shared rooms (engine, sources,
checks, ops, reports, results, config, the file writers, measures) serve every domain. A lower
module importing a domain package would make every domain depend on that one (and on its import
cost), and is how domain code ends up in shared rooms. The test parses every module of the lower
layers (ast, so imports inside functions and `importlib.import_module("martops.x")` count too).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


import martops

ROOT = Path(martops.__file__).parent
DOMAINS = {"attribution", "campaigns", "crm", "loyalty", "usage", "ingest", "leads", "workflows"}
LOWER_PACKAGES = {"engines", "sources", "checks", "ops", "reports", "delivery"}
LOWER_MODULES = {"engine.py", "results.py", "config.py", "errors.py", "export_files.py", "textfiles.py",
                 "interrupts.py", "measures.py", "config_leads.py", "config_types.py", "config_workflows.py", "snapshots.py", "domain.py", "graph.py", "runner.py"}
UPPER_PACKAGES = {"cli", "demo", "automation", "dashboard"}
"""Packages allowed to import domains besides the domains themselves (the CLI wires them; the demo
generators write each domain's sources; schedules check selections against the graph; the dashboard
draws each domain's report section). The registry, `domains.py`, is the one module that lists every
domain."""


def lower_modules() -> list[Path]:
    files = [ROOT / m for m in sorted(LOWER_MODULES)]
    for pkg in sorted(LOWER_PACKAGES):
        files += sorted((ROOT / pkg).rglob("*.py"))
    return files


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every module `path` imports, relative imports resolved."""
    package = list(path.relative_to(ROOT.parent).parts[:-1])  # e.g. ["martops", "sources"]
    tree = ast.parse(path.read_text("utf-8"), str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]  # `from martops import crm`
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            out.append((node.lineno, node.args[0].value))
    return sorted(out)


def domain_imports(path: Path) -> list[str]:
    found = []
    for line, name in imported_modules(path):
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == "martops" and parts[1] in DOMAINS:
            found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


def test_every_package_is_classified():
    """A new package (a domain such as loyalty, or a shared room) must say which side it is on."""
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    unknown = packages - DOMAINS - LOWER_PACKAGES - UPPER_PACKAGES
    assert not unknown, f"classify {sorted(unknown)} in tests/test_layers.py (a domain, lower or upper)"


def test_lower_layers_import_no_domain():
    missing = [m for m in [*LOWER_MODULES, *LOWER_PACKAGES] if not (ROOT / m).exists()]
    assert not missing, f"{missing} moved: update the lists (a scan of nothing passes vacuously)"
    files = lower_modules()
    bad = [hit for f in files for hit in domain_imports(f)]
    assert not bad, "lower layers must not import a domain:\n" + "\n".join(bad)


def test_the_scanner_sees_every_import_form(tmp_path, monkeypatch):
    """The parser catches absolute, relative, `from martops import <domain>`, function-level and
    importlib imports; a name that merely starts like a domain does not count."""
    pkg = tmp_path / "martops" / "sources"
    pkg.mkdir(parents=True)
    (tmp_path / "martops" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    mod = pkg / "bad.py"
    mod.write_text("import martops.crm.tables\n"
                   "from ..campaigns import mart\n"
                   "from martops import attribution\n"
                   "def f():\n    from martops.crm import countries\n"
                   "import importlib\nimportlib.import_module('martops.campaigns.views')\n"
                   "from martops import attribution_extras\nfrom . import typed\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / "martops")
    hits = domain_imports(mod)
    assert [h.split(" imports ")[1] for h in hits] == [
        "martops.crm.tables", "martops.campaigns", "martops.campaigns.mart", "martops.attribution",
        "martops.crm", "martops.crm.countries", "martops.campaigns.views"]
