"""Run a notebook in a Jupyter kernel with nbclient, as JupyterLab would (the kernel starts
in `notebooks/`, figures drawn by the inline backend), and collect each code cell's
outputs and the figures whose axes lack labels.

The notebooks are committed with their outputs (a reader sees the figures and numbers
without running anything); `tests/test_notebooks.py` runs them again and fails when the
committed outputs are not what the current code gives. Refresh them with

    .venv/bin/python tests/nbrun.py notebooks/*.ipynb

What a cell writes to stderr (progress bars, warnings) is not kept: it changes from run to
run and is not part of the answer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 900  # seconds per cell
DPI = 80

# Run before the notebook's own cells (and dropped from it): keep figures small, and after
# each cell note the open figures' axes without an x or a y label (registered before the
# inline backend's own post-execute hook, which closes the figures; the count has moved
# on by then, and the setup cell took the first).
_SETUP = f"""
import matplotlib as _mpl
_mpl.rcParams["figure.dpi"] = {DPI}
_woonsim_unlabelled = []


def _woonsim_check_axes():
    import matplotlib.pyplot as _plt

    for _num in _plt.get_fignums():
        for _i, _ax in enumerate(_plt.figure(_num).axes):
            if _ax.get_visible() and _ax.axison and not (_ax.get_xlabel() and _ax.get_ylabel()):
                _woonsim_unlabelled.append(
                    f"cell {{get_ipython().execution_count - 2}}: {{_ax.get_title() or _i}}"
                )


get_ipython().events.register("post_execute", _woonsim_check_axes)
"""
_REPORT = "import json as _json; print(_json.dumps(_woonsim_unlabelled))"


def _kept(output: dict) -> bool:
    return not (output["output_type"] == "stream" and output["name"] == "stderr")


def execute(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook run from its first cell in a fresh kernel, numbered from 1, and the
    figures with an unlabelled axis."""
    nb = nbformat.read(path, as_version=4)
    setup = nbformat.v4.new_code_cell(_SETUP)
    report = nbformat.v4.new_code_cell(_REPORT)
    nb.cells = [setup, *nb.cells, report]
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=TIMEOUT,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if _kept(o))
    unlabelled = json.loads(printed)
    nb.cells = nb.cells[1:-1]
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        n += 1
        cell.execution_count = n
        cell.outputs = [o for o in cell.outputs if _kept(o)]
        for o in cell.outputs:
            if o["output_type"] == "execute_result":
                o["execution_count"] = n
    return nb, unlabelled


def run_cells(path: Path) -> tuple[list[list[dict]], list[str]]:
    """Per code cell its outputs; and the figures with an unlabelled axis."""
    nb, unlabelled = execute(path)
    return [c.outputs for c in nb.cells if c.cell_type == "code"], unlabelled


def write(path: Path) -> None:
    """Run a notebook and write it back with its outputs and execution counts."""
    nb, unlabelled = execute(path)
    if unlabelled:
        raise SystemExit(f"{path}: axes without labels: {unlabelled}")
    nbformat.write(nb, path)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        write(Path(name))
        print(f"wrote {name}")
