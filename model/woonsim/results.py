"""The result of one run: per-seeker records, per-group cohort summary, invariant checks
and atomic writing of `summary.json` and `seekers.parquet`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from woonsim._version import __version__
from woonsim.errors import InvariantError
from woonsim.files import write_atomically
from woonsim.streams import seed_record

if TYPE_CHECKING:
    from woonsim.stylized.scenario import StylizedScenario

__all__ = ["EXIT_REASONS", "SHARES", "RunResult", "check_shares", "take"]

EXIT_REASONS = ("housed", "abandoned", "censored")
HOUSED, ABANDONED, CENSORED = 0, 1, 2


def take(column: np.ndarray, index: np.ndarray, fill) -> np.ndarray:
    """`column[index]` where index >= 0 and `fill` where it is -1 (none), also when the
    column is empty (a run without seekers, or without vacancies)."""
    index = np.asarray(index)
    out = np.full(index.shape, fill, dtype=np.result_type(column.dtype, np.min_scalar_type(fill)))
    ok = index >= 0
    out[ok] = column[index[ok]]
    return out


# summary keys that hold a share or a chance: within [0, 1] (or None)
SHARES = frozenset(
    {
        "p_housed", "share_of_lettings", "unused_share", "aandachtsgroep_share_of_lettings",
        "priority_share_of_lettings", "slaagkans", "own_municipality_share",
        "share_of_aandachtsgroep_lettings", "share_of_social_stock_2025", "share_of_population",
        "aandachtsgroep_share_of_new_tenants", "social_share_start", "social_share_end",
    }
)  # fmt: skip


def check_shares(summary: dict) -> dict:
    """Output ranges of a run's summary: every share and chance (`SHARES`) within [0, 1],
    every number finite; `InvariantError` names the key. Returns the summary."""
    stack: list[tuple[str, object]] = [("", summary)]
    while stack:
        where, x = stack.pop()
        if isinstance(x, dict):
            stack += [(f"{where}.{k}" if where else str(k), v) for k, v in x.items()]
        elif isinstance(x, list):
            stack += [(f"{where}[{i}]", v) for i, v in enumerate(x)]
        elif isinstance(x, float) and not np.isfinite(x):
            raise InvariantError(f"output range: {where} is {x}")
        elif where.rsplit(".", 1)[-1] in SHARES and x is not None and not -1e-9 <= x <= 1 + 1e-9:
            raise InvariantError(f"output range: {where} = {x} is not within [0, 1]")
    return summary


def _stat(x: np.ndarray, fn) -> float | None:
    return float(fn(x)) if len(x) else None


@dataclass(frozen=True)
class RunResult:
    """Records of one run. Seekers are register rows in arrival order."""

    scenario: StylizedScenario
    seed: np.random.SeedSequence
    now: float  # time the records run to; seekers waiting then are censored
    group: np.ndarray
    arrival: np.ndarray
    exit: np.ndarray  # letting time, abandonment time, or `now` when censored
    reason: np.ndarray  # int8 index into EXIT_REASONS
    deadline: np.ndarray
    dwelling: np.ndarray  # vacancy index, -1 when not housed
    vacancy_time: np.ndarray
    vacancy_class: np.ndarray
    let_to: np.ndarray  # seeker row per vacancy, -1 when unused
    # (vacancies, groups): groups a vacancy may go to; None where the allocator checks
    # work conservation itself (regional runs, `woonsim.engine.allocator`)
    reachable: np.ndarray | None
    waiting_in_lists: int  # seekers the rule's lists still hold at `now`

    @classmethod
    def from_engine(cls, *, dwelling, deadline, vacancy_time, now, **kw) -> RunResult:
        housed = dwelling >= 0
        left = ~housed & (deadline <= now)
        exit_ = (
            np.where(housed, take(vacancy_time, dwelling, 0.0), np.where(left, deadline, now))
            if len(dwelling)
            else np.zeros(0)
        )
        reason = np.where(housed, HOUSED, np.where(left, ABANDONED, CENSORED)).astype(np.int8)
        return cls(
            dwelling=dwelling,
            deadline=deadline,
            vacancy_time=vacancy_time,
            now=now,
            exit=exit_,
            reason=reason,
            **kw,
        )

    # --- cohort summary --------------------------------------------------------------
    @property
    def window(self) -> tuple[float, float]:
        m = self.scenario.cohort_measure
        return m.warmup, m.warmup + m.window

    def cohort(self) -> np.ndarray:
        """Seekers arriving inside the measurement window."""
        w0, w1 = self.window
        return (self.arrival >= w0) & (self.arrival < w1)

    def summary(self) -> dict:
        """Per-group cohort measures as defined by the validation reference (§2)."""
        sc = self.scenario
        w0, w1 = self.window
        cohort = self.cohort()
        in_window = (self.vacancy_time >= w0) & (self.vacancy_time < w1)
        let_in_window = in_window & (self.let_to >= 0)
        letting_groups = self.group[self.let_to[let_in_window]]
        total_lettings = int(let_in_window.sum())
        stay = np.clip(np.minimum(self.exit, w1) - np.maximum(self.arrival, w0), 0, None)

        groups = {}
        for gi, name in enumerate(sc.group_names):
            mine = self.group == gi
            sel = cohort & mine
            reason = self.reason[sel]
            spent = (self.exit - self.arrival)[sel]
            wait = spent[reason == HOUSED]
            exited = spent[reason != CENSORED]
            arrivals = int(sel.sum())
            lettings = int((letting_groups == gi).sum())
            groups[name] = {
                "arrivals": arrivals,
                "housed": int((reason == HOUSED).sum()),
                "abandoned": int((reason == ABANDONED).sum()),
                "censored": int((reason == CENSORED).sum()),
                "p_housed": float((reason == HOUSED).mean()) if arrivals else None,
                "mean_time_on_list": _stat(exited, np.mean),
                "mean_wait_housed": _stat(wait, np.mean),
                "sd_wait_housed": float(np.std(wait, ddof=1)) if len(wait) > 1 else None,
                "median_wait_housed": _stat(wait, np.median),
                "p90_wait_housed": _stat(wait, lambda x: np.quantile(x, 0.9)),
                "share_of_lettings": lettings / total_lettings if total_lettings else None,
                "lettings": lettings,
                "arrival_rate": arrivals / (w1 - w0),
                "mean_number_waiting": float(stay[mine].sum() / (w1 - w0)),
            }
        arrived = int(in_window.sum())
        unused = arrived - total_lettings
        return {
            "scenario": sc.name,
            "seed": seed_record(self.seed),
            "time_unit": sc.time_unit,
            "version": __version__,
            "scenario_sha256": sc.digest(),
            "rule": sc.rule_label,
            "cohort_window": [w0, w1],
            "end": self.now,
            "groups": groups,
            "vacancies": {
                "arrived": arrived,
                "let": total_lettings,
                "unused": unused,
                "unused_share": unused / arrived if arrived else None,
            },
            "scenario_spec": sc.model_dump(mode="json"),
        }

    def summary_json(self) -> str:
        return json.dumps(check_shares(self.summary()), indent=2, allow_nan=False) + "\n"

    # --- tables ------------------------------------------------------------------------
    def _metadata(self) -> dict[bytes, bytes]:
        meta = {
            "scenario": self.scenario.name,
            "seed": seed_record(self.seed),
            "version": __version__,
            "scenario_sha256": self.scenario.digest(),
        }
        return {b"woonsim": json.dumps(meta).encode()}

    def seekers_table(self) -> pa.Table:
        """One row per seeker: group, arrival, exit, exit reason, dwelling, municipality."""
        names = pa.array(self.scenario.group_names, pa.string())
        n = len(self.arrival)
        housed = self.dwelling >= 0
        table = pa.table(
            {
                "seeker": pa.array(np.arange(n, dtype=np.int64)),
                "group": pa.DictionaryArray.from_arrays(
                    pa.array(self.group.astype(np.int16)), names
                ),
                "arrival": pa.array(self.arrival),
                "exit": pa.array(self.exit),
                "reason": pa.DictionaryArray.from_arrays(
                    pa.array(self.reason), pa.array(EXIT_REASONS, pa.string())
                ),
                "dwelling": pa.array(self.dwelling, mask=~housed),
                "municipality": pa.nulls(n, pa.string()),
                "cohort": pa.array(self.cohort()),
            }
        )
        return table.replace_schema_metadata(self._metadata())

    def vacancies_table(self) -> pa.Table:
        """One row per vacancy: time, quota flag and the seeker it was let to."""
        let = self.let_to >= 0
        table = pa.table(
            {
                "vacancy": pa.array(np.arange(len(self.let_to), dtype=np.int64)),
                "time": pa.array(self.vacancy_time),
                "quota": pa.array(self.vacancy_class.astype(bool)),
                "seeker": pa.array(self.let_to, mask=~let),
            }
        )
        return table.replace_schema_metadata(self._metadata())

    def write(self, out_dir: str | Path, extra=None) -> Path:
        """Write summary.json, seekers.parquet and vacancies.parquet; all or nothing.
        `extra(tmp_dir)` may add files to the same write."""

        def files(tmp: Path) -> None:
            if extra is not None:
                extra(tmp)
            (tmp / "summary.json").write_text(self.summary_json(), encoding="utf-8")
            pq.write_table(self.seekers_table(), tmp / "seekers.parquet")
            pq.write_table(self.vacancies_table(), tmp / "vacancies.parquet")

        return write_atomically(out_dir, files, replace="summary.json")  # a run: a set

    # --- invariants --------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Deterministic invariants every run must satisfy; raise `InvariantError`."""
        let = self.let_to >= 0
        tenants = self.let_to[let]
        if len(tenants) and np.bincount(tenants, minlength=len(self.arrival)).max() > 1:
            raise InvariantError("a seeker was housed twice")
        v_of = np.flatnonzero(let)
        if not (
            np.array_equal(self.dwelling[tenants], v_of)
            and (self.dwelling >= 0).sum() == len(tenants)
        ):
            raise InvariantError("lettings and dwellings do not trace one-to-one")
        t = self.vacancy_time[let]
        if not ((self.arrival[tenants] <= t).all() and (self.deadline[tenants] > t).all()):
            raise InvariantError("a seeker was housed while not on the list")
        # Work conservation: an unused vacancy found nobody waiting in the groups it could
        # go to. Waiting in group g at t = arrived by t - exited by t.
        unused = np.flatnonzero(~let)
        still = self.reason == CENSORED
        for g in range(len(self.scenario.groups) if self.reachable is not None else 0):
            mine = self.group == g
            arr = self.arrival[mine]
            gone = np.sort(np.where(still[mine], np.inf, self.exit[mine]))
            tu = self.vacancy_time[unused[self.reachable[unused, g]]]
            waiting = np.searchsorted(arr, tu, "right") - np.searchsorted(gone, tu, "right")
            if (waiting > 0).any():
                raise InvariantError(f"a vacancy stayed unused while group {g} had seekers waiting")
        # I2 flow conservation: arrivals = housed + abandoned + still waiting, where
        # "still waiting" is counted independently from the rule's own lists.
        if int(still.sum()) != self.waiting_in_lists:
            raise InvariantError(
                f"flow conservation: {int(still.sum())} censored but the lists hold "
                f"{self.waiting_in_lists}"
            )
