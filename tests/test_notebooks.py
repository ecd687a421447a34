"""The notebooks run against the current package, in a Jupyter kernel (nbclient, from the
notebooks' folder, as JupyterLab runs them), and are committed as a reader should see
them: every cell has an id, every code cell has run, in order, with the outputs the
current code gives (refresh them with `.venv/bin/python tests/nbrun.py notebooks/*.ipynb`),
every axis is labelled, and each ends with a conclusion whose numbers are in the outputs.

Notebooks 03-05 answer each user's question at the small scale (`WOONSIM_NOTEBOOK_SCALE`,
default small) and assert the facts their conclusion states, so a rerun that no longer
supports the conclusion fails here.

Why outputs are committed: a reader on the web or in JupyterLab sees the figures and the
numbers the conclusion quotes without running anything, and this test keeps them from
going stale (a changed result fails here until the outputs are refreshed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from nbrun import run_cells

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _text(outputs: list[dict]) -> str:
    """What a cell printed and the plain text of its values (not the figures' bytes)."""
    parts = []
    for o in outputs:
        if o["output_type"] == "stream" and o["name"] == "stdout":
            parts.append("".join(o["text"]))
        elif o["output_type"] == "execute_result":
            parts.append("".join(o["data"]["text/plain"]))
    return "".join(parts)


def _figures(outputs: list[dict]) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_as_it_runs(path, tmp_path, monkeypatch):
    # the notebooks' sweeps resume from finished run files, which record the woonsim
    # version but not the code: in a fresh folder every run is made by the code under test
    monkeypatch.setenv("WOONSIM_NOTEBOOK_RESULTS", str(tmp_path))
    monkeypatch.setenv("WOONSIM_NOTEBOOK_SCALE", "small")
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5)
    ids = [c.get("id") for c in nb["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs its own id"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    outputs, unlabelled = run_cells(path)
    assert not unlabelled, f"label every axis: {unlabelled}"
    for i, (cell, fresh) in enumerate(zip(code, outputs, strict=True), start=1):
        assert _text(cell["outputs"]) == _text(fresh), f"cell {i}: outputs are stale"
        assert _figures(cell["outputs"]) == _figures(fresh), f"cell {i}: figures are stale"
    assert sum(_figures(c["outputs"]) for c in code) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_ends_with_a_conclusion_whose_numbers_it_shows(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    text = json.dumps(nb).lower()
    assert "not run yet" not in text
    last = nb["cells"][-1]
    body = "".join(last["source"])
    assert last["cell_type"] == "markdown" and body.startswith("## Conclusion")
    shown = "".join(_text(c.get("outputs", [])) for c in nb["cells"])
    numbers = re.findall(r"-?\d+\.\d+%?", body)
    assert numbers, "the conclusion quotes the numbers"
    missing = [n for n in numbers if n not in shown]
    assert not missing, f"quoted but not in the outputs: {missing}"
