"""Sweeps: every run of an experiment over any `concurrent.futures.Executor`, written one
file per run so that a killed sweep resumes where it stopped.

Results folder (the contract the report reads):

- ``experiment.json``: the experiment spec (``Experiment.to_json()``): the file's keys,
  ``sha256``, ``version``, ``points`` (uncertainty values per design point, ``[{}]``
  without uncertainties), ``municipalities`` and ``base_scenario``. Written first.
- ``runs/<run id>.parquet``: the measures of one run (`woonsim.measures.run_metrics`) with
  the columns ``run``, ``variant``, ``point`` and ``replication`` added; run id
  ``v{variant:02d}-p{point:03d}-r{replication:03d}``. In a national experiment a run is
  one region (run id ``...-r003-CR17``, and a column ``region``), so a killed national
  sweep resumes per region. The schema metadata (key
  ``woonsim``, JSON) holds the seed, scenario sha256 and version of the run, plus its
  variant, point, replication and the experiment's sha256.
- ``manifest.json``: the finished runs, sorted, with seed, file and the sha256 of the
  file's bytes; no timings or host names, so it is the same whatever ran the sweep.
  During a sweep ``checksums.log`` records each run as it finishes (removed once the
  manifest holds them all). Only a file that matches its recorded sha256 counts as
  finished (`woonsim_experiments.run_record`): a resume runs the others again.

A run is a pure function of (scenario, seed) and each file depends only on its run, so
the folder is byte-identical whether the sweep ran serially, on a process pool or on a
Dask cluster, in one go or resumed after a kill. Workers (pool processes, Dask workers) must
be able to import `model`: on a cluster, install woonsim on every worker.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from woonsim.errors import WoonsimError
from woonsim.files import TMP_SUFFIX, write_bytes_atomically
from woonsim.region.scenario import Quota
from woonsim.streams import seed_record
from woonsim_experiments.experiment import Experiment, RunSpec
from woonsim_experiments.run_record import (
    JOURNAL_FILE,
    MANIFEST_FILE,
    RUNS,
    append_journal,
    digest,
    verified,
)

__all__ = [
    "FolderError",
    "RunFailed",
    "SweepResult",
    "check_folder",
    "fork_groups",
    "parquet_bytes",
    "run_group",
    "run_one",
    "sweep",
]

EXPERIMENT_FILE = "experiment.json"
_TMP = TMP_SUFFIX  # suffix of files being written: `.<name>.<random>.tmp`
_POLL_SECONDS = 1.0  # how often a waiting sweep checks that it still has workers
NO_WORKERS_GRACE = 120.0  # seconds without any worker before a Dask sweep gives up
_MANIFEST_EVERY = 2.0  # seconds: rewrite the manifest at most this often during a sweep


class FolderError(WoonsimError, ValueError):
    """The results folder cannot be used for this experiment (one-line message)."""


class RunFailed(WoonsimError, RuntimeError):
    """A run raised; the message names the run."""


def run_one(spec: RunSpec) -> pa.Table:
    """The measures of one run, with the run's identity as columns and in the metadata."""
    from woonsim.simulate import run

    return _table(spec, run(spec.scenario, spec.seed))


def run_group(specs: list[RunSpec]) -> list[pa.Table]:
    """The tables of a task: one run, or runs that share their burn-in (`fork_groups`):
    the burn-in runs once, and each run goes on from a copy of it (`RegionalMarket.fork`;
    the same tables as `run_one` of each, tested)."""
    if len(specs) == 1:
        return [run_one(specs[0])]
    from woonsim.simulate import market_for

    base = market_for(specs[0].scenario, specs[0].seed)
    base.advance(int(round(base.norm_year / base.dt)))
    return [_table(s, base.fork(s.scenario).run()) for s in specs]


def _fork_key(spec: RunSpec) -> tuple:
    """Runs with one key share their burn-in: the same seed and scenario up to a quota
    that comes into force at the end of the burn-in."""
    sc = spec.scenario
    q = getattr(getattr(sc, "allocation", None), "quota", None)
    if q is None or q.start != "window":
        return (spec.run,)
    no_quota = sc.allocation.model_copy(update={"quota": Quota(start="window")})
    same = sc.model_copy(update={"allocation": no_quota})
    seed = spec.seed
    return (same.model_dump_json(), seed.entropy, tuple(seed.spawn_key), seed.pool_size)


def fork_groups(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """`specs` as tasks, in their order: runs that can share a burn-in go together."""
    groups: dict[tuple, list[RunSpec]] = {}
    for s in specs:
        groups.setdefault(_fork_key(s), []).append(s)
    return list(groups.values())


def _table(spec: RunSpec, result) -> pa.Table:
    from woonsim.measures import check_ranges, run_metrics

    table = check_ranges(run_metrics(result))  # output ranges, as every run's
    n = table.num_rows
    meta = json.loads(table.schema.metadata[b"woonsim"])
    meta.update(
        run=spec.run,
        variant=spec.variant,
        variant_index=spec.variant_index,
        point=spec.point,
        point_values=spec.values,
        replication=spec.replication,
        experiment_sha256=spec.experiment_sha256,
    )
    columns = [
        ("run", spec.run, pa.string()),
        ("variant", spec.variant, pa.string()),
        ("point", spec.point, pa.int32()),
        ("replication", spec.replication, pa.int32()),
    ]
    if spec.region:
        meta.update(region=spec.region, parameters=spec.parameters)
        columns.append(("region", spec.region, pa.string()))
    for name, value, kind in columns:
        table = table.append_column(name, pa.array([value] * n, kind))
    return table.replace_schema_metadata({b"woonsim": json.dumps(meta).encode()})


def parquet_bytes(table: pa.Table) -> bytes:
    """A table as Parquet with fixed options: the same table gives the same bytes."""
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
        write_page_checksum=True,  # a flipped bit in the data fails the read (CRC32)
    )
    return buf.getvalue()


def _write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over `path` (atomic)."""
    write_bytes_atomically(path, data)


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _is_tmp(p: Path) -> bool:
    return p.name.startswith(".") and p.name.endswith(_TMP)


def check_folder(experiment: Experiment, out_dir: str | Path) -> None:
    """Raise `FolderError` unless `out_dir` is absent, empty (temporary files aside), or
    holds results of this same experiment."""
    out = Path(out_dir)
    if not out.exists():
        return
    if not out.is_dir():
        raise FolderError(f"{out}: exists and is not a directory")
    spec = out / EXPERIMENT_FILE
    if not spec.exists() and (out / MANIFEST_FILE).exists() and _ours_but_damaged(experiment, out):
        return  # experiment.json lost after the manifest was written: the sweep rewrites it
    if not spec.exists():
        other = sorted(p.name for p in out.iterdir() if not _is_tmp(p))
        if other:
            raise FolderError(
                f"{out}: not empty and not an experiment results folder "
                f"(holds {', '.join(other[:3])}{', ...' if len(other) > 3 else ''}); "
                "choose another --out"
            )
        return
    try:
        sha = json.loads(spec.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        sha = None
    if sha != experiment.sha256 and _ours_but_damaged(experiment, out):
        return  # a damaged experiment.json of this experiment: the sweep rewrites it
    if sha is None:
        raise FolderError(f"{spec}: cannot read the experiment it holds")
    if sha != experiment.sha256:
        raise FolderError(
            f"{out}: holds results of another experiment (sha256 {sha[:12]}..., this one "
            f"{experiment.sha256[:12]}...); choose another --out or remove the folder"
        )


def _ours_but_damaged(experiment: Experiment, out: Path) -> bool:
    """The manifest says the folder holds this experiment and that experiment.json is
    not the file it recorded (a flipped bit, a lost file): the folder is this one's."""
    try:
        doc = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))
        recorded_json = doc["experiment_json_sha256"]
        ours = doc["experiment_sha256"] == experiment.sha256
    except (OSError, ValueError, KeyError, TypeError):
        return False
    try:
        now = digest((out / EXPERIMENT_FILE).read_bytes())
    except OSError:
        now = None
    return ours and now != recorded_json


@contextlib.contextmanager
def _locked(out: Path):
    """Hold an exclusive lock on the folder: one sweep writes into it at a time."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderError(f"{out}: another sweep is writing into this folder") from None
        yield
    finally:
        os.close(fd)


def _capacity(executor: Executor) -> int:
    """How many runs the executor works on at once (its workers)."""
    n = getattr(executor, "_max_workers", None)  # process and thread pools
    if isinstance(n, int) and n > 0:
        return n
    client = getattr(executor, "_client", None)  # distributed.cfexecutor.ClientExecutor
    if client is not None:
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class SweepResult:
    out_dir: Path
    total: int  # runs in the experiment
    skipped: int  # already finished before this sweep
    ran: int  # finished by this sweep
    repaired: int = 0  # files that did not match their recorded checksum, run again


def sweep(
    experiment: Experiment,
    out_dir: str | Path,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    window: int | None = None,
) -> SweepResult:
    """Run every unfinished run of `experiment` into `out_dir` (see the module docstring).

    `executor`: any `concurrent.futures.Executor` (None: serially, in this process). At
    most `window` runs are submitted at a time (default twice the executor's workers), so
    a kill loses at most those. `progress(done, todo)` is called after each run.
    Raises `FolderError` when `out_dir` holds something else, `RunFailed` when a run
    raises (after writing the runs that finished)."""
    out = Path(out_dir)
    check_folder(experiment, out)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        check_folder(experiment, out)
        for p in out.iterdir():
            if _is_tmp(p):
                p.unlink()
        spec_bytes = _json_bytes(experiment.to_json())
        try:
            written = (out / EXPERIMENT_FILE).read_bytes()
        except OSError:
            written = None
        if written != spec_bytes:  # absent, or damaged (the same sha256, or check_folder
            _write_bytes(out / EXPERIMENT_FILE, spec_bytes)  # would have refused): rewritten
        runs_dir = out / RUNS
        runs_dir.mkdir(exist_ok=True)
        for p in runs_dir.iterdir():
            if _is_tmp(p):
                p.unlink()

        specs = experiment.runs()
        # run id -> sha256 of the finished files (run_record); the others (corrupt,
        # truncated, another run's) are removed and run again
        digests, unrecorded = verified(out, [s.run for s in specs], experiment.sha256)
        for run in unrecorded:
            (runs_dir / f"{run}.parquet").unlink()
        skipped = len(digests)
        # replication-major: a partial sweep holds whole replications of every variant
        todo = sorted(
            (s for s in specs if s.run not in digests),
            key=lambda s: (s.replication, s.point, s.variant_index),
        )
        last_manifest = time.monotonic()

        def manifest() -> None:
            nonlocal last_manifest
            rows = [
                {
                    "run": s.run,
                    "variant": s.variant,
                    "point": s.point,
                    "replication": s.replication,
                    **({"region": s.region} if s.region else {}),
                    "seed": seed_record(s.seed),
                    "file": f"{RUNS}/{s.run}.parquet",
                    "sha256": digests[s.run],
                }
                for s in sorted(
                    specs, key=lambda s: (s.variant_index, s.point, s.replication, s.region)
                )
                if s.run in digests
            ]
            doc = {
                "experiment_sha256": experiment.sha256,
                "experiment_json_sha256": digest(spec_bytes),
                "total_runs": len(specs),
                "runs": rows,
            }
            _write_bytes(out / MANIFEST_FILE, _json_bytes(doc))
            last_manifest = time.monotonic()

        def finished(spec: RunSpec, table: pa.Table) -> None:
            data = parquet_bytes(table)
            _write_bytes(runs_dir / f"{spec.run}.parquet", data)
            digests[spec.run] = digest(data)
            append_journal(out, spec.run, digests[spec.run])
            if progress is not None:
                progress(len(digests) - skipped, len(todo))
            if time.monotonic() - last_manifest >= _MANIFEST_EVERY:
                manifest()

        tasks = fork_groups(todo)
        try:
            if executor is None:
                for group in tasks:
                    try:
                        tables = run_group(group)
                    except Exception as err:
                        raise RunFailed(_failure(group[0], err)) from err
                    for spec, table in zip(group, tables, strict=True):
                        finished(spec, table)
            else:
                _map_bounded(executor, tasks, finished, window or 2 * _capacity(executor))
        finally:
            manifest()
            (out / JOURNAL_FILE).unlink(missing_ok=True)  # the manifest now holds it all
    return SweepResult(
        out_dir=out,
        total=len(specs),
        skipped=skipped,
        ran=len(digests) - skipped,
        repaired=len(unrecorded),
    )


def _failure(spec: RunSpec, err: BaseException) -> str:
    return f"run {spec.run} ({spec.variant}, replication {spec.replication}) failed: " + (
        f"{type(err).__name__}: {err}"
    )


def _has_workers(executor: Executor) -> bool:
    """False only when the executor is a Dask client whose scheduler has no workers."""
    client = getattr(executor, "_client", None)
    if client is None:
        return True
    try:
        return bool(client.nthreads())
    except Exception:  # the scheduler is unreachable: no worker either
        return False


def _map_bounded(executor: Executor, tasks: list[list[RunSpec]], finished, window: int) -> None:
    """Submit `run_group` over `tasks` with at most `window` in flight; hand each run's
    table to `finished` as its task returns. On a failed task, stop submitting, keep what
    finishes, then raise `RunFailed`; on any other exception cancel what has not started."""
    pending = iter(tasks)
    in_flight: dict[Future, list[RunSpec]] = {}
    failure: RunFailed | None = None

    def submit() -> None:
        group = next(pending, None)
        if group is not None:
            in_flight[executor.submit(run_group, group)] = group

    try:
        for _ in range(max(1, window)):
            submit()
        idle_since: float | None = None  # since when no worker has been there
        while in_flight:
            done, _ = wait(list(in_flight), timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            if not done:
                if _has_workers(executor):
                    idle_since = None
                    continue
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= NO_WORKERS_GRACE:
                    raise RunFailed(
                        f"no worker has been there to run the sweep for {NO_WORKERS_GRACE:.0f} "
                        "s (every Dask worker died or left); the finished runs are kept: "
                        "start workers and run the same command to resume"
                    )
                continue
            idle_since = None
            for fut in sorted(done, key=lambda f: in_flight[f][0].run):
                group = in_flight.pop(fut)
                try:
                    tables = fut.result()
                except Exception as err:
                    if failure is None:
                        failure = RunFailed(_failure(group[0], err))
                        failure.__cause__ = err
                    continue
                for spec, table in zip(group, tables, strict=True):
                    finished(spec, table)
                if failure is None:
                    submit()
    finally:
        for fut in in_flight:
            fut.cancel()
    if failure is not None:
        raise failure
