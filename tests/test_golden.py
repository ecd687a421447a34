"""Golden outputs: the exact per-run measures of two stylized scenarios and of a small
region at fixed seeds, pinned by SHA-256.

These pins guard refactoring: a change of structure must leave every number identical.
A deliberate change of behaviour (a bug fix) says so in its commit message and updates
the pin in the same commit. The digests are taken over a canonical text form (floats as
`float.hex`), so they depend on the numbers only, not on the file format or the version.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from woonsim import load_scenario, parse_scenario, run
from woonsim.measures import run_metrics

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "experiments" / "woonsim_experiments" / "validation_cases"
TINY = Path(__file__).parent / "data" / "tiny_region.yaml"


def _canon(x) -> str:
    """A canonical text of nested measures: sorted keys, floats in hex, NaN/None marked."""
    if isinstance(x, dict):
        return "{" + ",".join(f"{k}:{_canon(x[k])}" for k in sorted(x)) + "}"
    if isinstance(x, list | tuple):
        return "[" + ",".join(_canon(v) for v in x) + "]"
    if x is None:
        return "None"
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        return "nan" if math.isnan(x) else float(x).hex()
    return json.dumps(x)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stylized_digest(result) -> str:
    s = result.summary()
    per_seeker = [result.group.tolist(), result.exit.tolist(), result.reason.tolist()]
    return _digest(
        _canon({"groups": s["groups"], "vacancies": s["vacancies"], "seekers": per_seeker})
    )


def region_digest(result) -> str:
    table = run_metrics(result)
    cols = [table.column(c).to_pylist() for c in table.column_names]
    b = result.base
    return _digest(_canon({"measures": cols, "exit": b.exit.tolist(), "reason": b.reason.tolist()}))


def _short(path: Path, warmup: float, window: float, tail: float):
    spec = load_scenario(path).model_dump(mode="json")
    spec["measure"] = {"warmup": warmup, "window": window, "tail": tail}
    return parse_scenario(spec)


GOLDEN = {
    "v3b_quota_pass_on": "b72a5089066fa40ed7d1b17abaf1a051aa9ddbdbc525f1a98557254e817e6be3",
    "v5a_priority": "f0235be86d4bfd8ec951505983fee07663cdb32751a94e1dcf188e4befa5168f",
    # re-pinned in issue 12: the censored and stationarity measures are new rows of the
    # table; every row the old pins covered is bit-identical (checked against 3b29b02).
    # Re-pinned in issue 14: entering_search_per_year and registering_per_year are new
    # rows; without them the table gives the issue-12 pins (checked against 45af05a).
    # Re-pinned when the window's drift stopped calling LAPACK (np.polyfit), whose last
    # bits depend on the CPU's OpenBLAS kernel: the old pins held on Intel (SkylakeX) only,
    # and the new ones hold on every kernel (checked with OPENBLAS_CORETYPE=SkylakeX, Zen,
    # Haswell, Prescott); only the three window_drift rows changed, in their last bits
    "tiny_region": "a735c8827fdd14d21f701023ec9b70ea899b812964a1be33330a1d135ef03a9e",
    "tiny_region_floor30": "19a585f2dd3cb47e8ef814069de1f68b33d04bf8826b944ad98047a42fc3bfbe",
}


@pytest.mark.parametrize("case", ["v3b_quota_pass_on", "v5a_priority"])
def test_stylized_golden(case):
    sc = _short(CASES / f"{case}.yaml", 20.0, 400.0, 40.0)
    assert stylized_digest(run(sc, seed=np.random.SeedSequence(7))) == GOLDEN[case]


@pytest.mark.parametrize("variant", ["tiny_region", "tiny_region_floor30"])
def test_region_golden(variant):
    spec = load_scenario(TINY).model_dump(mode="json")
    if variant.endswith("floor30"):
        spec["allocation"]["quota"] = {"share": 0.3, "mode": "floor"}
    result = run(parse_scenario(spec), seed=np.random.SeedSequence(11))
    assert region_digest(result) == GOLDEN[variant]


@pytest.mark.parametrize("coretype", ["Prescott", "SkylakeX"])
def test_region_golden_does_not_depend_on_the_blas_kernel(coretype):
    """The pins hold whichever OpenBLAS kernel the CPU selects: a run's outputs must not go
    through BLAS or LAPACK, whose last bits differ between kernels (np.polyfit did)."""
    code = (
        "import sys; sys.path.insert(0, 'tests'); import numpy as np; "
        "from test_golden import TINY, GOLDEN, region_digest; "
        "from woonsim import load_scenario, run; "
        "r = run(load_scenario(TINY), seed=np.random.SeedSequence(11)); "
        "assert region_digest(r) == GOLDEN['tiny_region'], 'differs'"
    )
    env = {**os.environ, "OPENBLAS_CORETYPE": coretype}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-500:]
