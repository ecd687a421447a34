"""The package structure: three layers (model, experiment layer, command line and
dashboard), no import cycles anywhere, and the model never reaches up into the layers above
it."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("woonsim", "woonsim_experiments", "woonsim_cli", "woonsim_dashboard")


def _graph():
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)


def test_no_import_cycles():
    g = _graph()
    modules = sorted(g.modules)
    cycles = [
        (a, b)
        for a, b in itertools.combinations(modules, 2)
        if g.chain_exists(a, b) and g.chain_exists(b, a)
    ]
    assert cycles == []


def test_model_never_imports_the_layers_above():
    g = _graph()
    model = [m for m in g.modules if m == "woonsim" or m.startswith("woonsim.")]
    above = [m for m in g.modules if m.startswith(PACKAGES[1:])]
    leaks = [(a, b) for a in model for b in g.find_modules_directly_imported_by(a) if b in above]
    assert leaks == []


def test_import_contract_is_kept():
    """The layered contracts of pyproject.toml (what `make test` runs as `lint-imports`)."""
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "broken" in out.stdout and " 0 broken" in out.stdout


def test_command_line_starts_without_heavy_imports():
    """`woonsim --help` and bad-input errors need neither Mesa nor the data stack: the
    package imports them on first use (measured by what is imported, not by a timer)."""
    heavy = ("mesa", "pandas", "pyarrow", "scipy", "matplotlib", "dask")
    code = (
        f"import sys, woonsim, woonsim_cli\nprint(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
