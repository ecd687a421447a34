"""Shared helpers for the tests."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from woonsim import parse_scenario

ROOT_SEED = 20250101
REPO = Path(__file__).resolve().parents[1]


def stylized(groups, rule="fifo", vac=10.0, measure=(50.0, 500.0, 50.0), **alloc):
    """A stylized scenario from short arguments."""
    return parse_scenario(
        {
            "kind": "stylized",
            "name": "test",
            "time_unit": "month",
            "measure": dict(zip(("warmup", "window", "tail"), measure, strict=True)),
            "vacancies": {"rate": vac},
            "allocation": {"rule": rule, **alloc},
            "groups": groups,
        }
    )


def replication_seeds(r: int = 10, root: int = ROOT_SEED):
    return np.random.SeedSequence(root).spawn(r)


def passes(values, exact: float, margin: float = 0.01) -> tuple[bool, str]:
    """The validation reference's pass rule: |mean - exact| <= t(0.999, R-1) SE or <= margin."""
    x = np.asarray(values, dtype=float)
    mean, se = x.mean(), x.std(ddof=1) / math.sqrt(len(x))
    bound = stats.t.ppf(0.999, len(x) - 1) * se
    dev = abs(mean - exact)
    ok = dev <= bound or dev <= margin * abs(exact)
    return ok, f"mean {mean:.5f} ± {se:.5f} (t-bound {bound:.5f}) vs {exact:.5f}"


@pytest.fixture
def make_scenario():
    return stylized


def plant(seekers, s, **columns) -> None:
    """Set columns of household s that are read-only in a run (`Seekers.read_only`), to
    plant a household in a mechanism test."""
    for name, value in columns.items():
        col = getattr(seekers, name)
        col.flags.writeable = True
        col[s] = value
        col.flags.writeable = False
