"""Run a notebook's code cells in one namespace, as Jupyter's inline backend would, and
collect each cell's outputs (stdout, the value of a last expression, the figures it
drew), without a kernel.

The notebooks are committed with their outputs (a reader sees the figures and numbers
without running anything); `tests/test_notebooks.py` runs them again and fails when the
committed outputs are not what the current code gives. Refresh them with

    .venv/bin/python tests/nbrun.py notebooks/*.ipynb
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DPI = 80


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _figure_output(fig) -> dict:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    w, h = fig.get_size_inches() * fig.dpi
    return {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
            "text/plain": [f"<Figure size {w:.0f}x{h:.0f} with {len(fig.axes)} Axes>"],
        },
        "metadata": {},
    }


def unlabelled_axes(fig) -> list[str]:
    """The visible axes of a figure that lack an x or a y label."""
    return [
        ax.get_title() or f"axes {i}"
        for i, ax in enumerate(fig.axes)
        if ax.get_visible() and ax.axison and not (ax.get_xlabel() and ax.get_ylabel())
    ]


def run_cells(path: Path) -> tuple[list[list[dict]], list[str]]:
    """Per code cell its outputs; and the figures with an unlabelled axis."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    ns: dict = {"__name__": "__notebook__"}
    outputs, unlabelled = [], []
    plt.close("all")
    n = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        n += 1
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        out: list[dict] = []
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(tree, str(path), "exec"), ns)
            value = (
                eval(compile(ast.Expression(last.value), str(path), "eval"), ns) if last else None
            )
        if stdout.getvalue():
            out.append(
                {"output_type": "stream", "name": "stdout", "text": _lines(stdout.getvalue())}
            )
        if value is not None and not isinstance(value, matplotlib.artist.Artist | list):
            data = {"text/plain": _lines(repr(value))}
            if hasattr(value, "_repr_html_"):
                data["text/html"] = _lines(value._repr_html_())
            out.append(
                {
                    "output_type": "execute_result",
                    "execution_count": n,
                    "data": data,
                    "metadata": {},
                }
            )
        for num in plt.get_fignums():
            fig = plt.figure(num)
            unlabelled += [f"cell {n}: {a}" for a in unlabelled_axes(fig)]
            out.append(_figure_output(fig))
        plt.close("all")
        outputs.append(out)
    return outputs, unlabelled


def write(path: Path) -> None:
    """Run a notebook and write it back with its outputs and execution counts."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    outputs, unlabelled = run_cells(path)
    if unlabelled:
        raise SystemExit(f"{path}: axes without labels: {unlabelled}")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, (cell, out) in enumerate(zip(code, outputs, strict=True), start=1):
        cell["execution_count"] = i
        cell["outputs"] = out
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        write(Path(name))
        print(f"wrote {name}")
