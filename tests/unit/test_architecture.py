"""The architecture the layout promises: imports run one way, and the public API is lazy.

Imports run ``simulator`` ← ``theorems`` ← ``reports`` (benchmark tooling sits beside theorems,
on top of the science): the science never imports the claims, the writers or the command line.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# what each top-level package may import from the project
ALLOWED = {
    "simulator": {"simulator"},
    "theorems": {"simulator", "theorems"},
    "benchmarks": {"simulator", "benchmarks"},
    "reports": {"simulator", "theorems", "reports", "benchmarks"},
}
PROJECT = set(ALLOWED)
# benchmarks/ holds the speed tooling that `fpsim bench` imports (it follows the rule) and
# measurement scripts run as files, never imported: those sit on top of everything
BENCHMARK_TOOLING = {"__init__", "speed", "timing", "torch_peer"}


def _imports(path: Path, root: Path):
    """(line, absolute module) of every project import in ``path``."""
    rel = path.relative_to(root).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield node.lineno, mod


def violations(root: Path) -> list[str]:
    """Every import that runs against the direction, as 'file:line imports module'."""
    out = []
    for top, allowed in ALLOWED.items():
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            if rel.parts[0] == "benchmarks" and len(rel.parts) == 2 and rel.stem not in BENCHMARK_TOOLING:
                continue
            for line, mod in _imports(path, root):
                target = mod.split(".")[0]
                if target in PROJECT and target not in allowed:
                    out.append(f"{path.relative_to(root)}:{line} imports {mod}")
    return out


def test_imports_run_one_way():
    assert violations(ROOT) == []


def test_the_scan_finds_a_violation(tmp_path):
    for top in ALLOWED:
        (tmp_path / top).mkdir()
        (tmp_path / top / "__init__.py").write_text("")
    (tmp_path / "simulator" / "bad.py").write_text("import numpy\nfrom reports.cli import main\n")
    (tmp_path / "theorems" / "worse.py").write_text("from ..reports import figures\n")
    (tmp_path / "theorems" / "fine.py").write_text("from simulator.config import RunConfig\nfrom . import x\n")
    assert violations(tmp_path) == ["simulator/bad.py:2 imports reports.cli",
                                    "theorems/worse.py:1 imports reports"]


def test_public_api_is_lazy_and_complete():
    code = ("import sys, simulator as fp\n"
            "assert 'numba' not in sys.modules and 'numpy' not in sys.modules, 'eager import'\n"
            "missing = [n for n in fp.__all__ if getattr(fp, n, None) is None]\n"
            "assert not missing, missing\n"
            "assert set(fp.__all__) <= set(dir(fp))\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_unknown_public_name_is_an_attribute_error():
    import simulator

    with pytest.raises(AttributeError, match="no attribute 'train_everything'"):
        simulator.train_everything  # noqa: B018


def test_every_subcommand_is_listed_once():
    from reports.cli import COMMANDS

    names = [m.__name__.rsplit(".", 1)[-1] for m in COMMANDS]
    modules = sorted(p.stem for p in (ROOT / "reports" / "cli").glob("*.py")
                     if p.stem not in ("__init__", "__main__", "config_flags"))
    assert sorted(names) == modules
