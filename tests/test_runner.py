"""The sweep runner: one file per run, byte-identical results whatever executes them
(serial, a process pool, a Dask cluster), resume after a kill, and refusal to mix
experiments in one folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from woonsim.measures import run_metrics
from woonsim.simulate import run
from woonsim_cli import main
from woonsim_experiments.cluster import local_cluster, stop_process
from woonsim_experiments.executors import process_pool
from woonsim_experiments.experiment import load_experiment
from woonsim_experiments.report import build_report
from woonsim_experiments.runner import FolderError, RunFailed, run_one, sweep

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parents[1]
TOTAL = 9  # tiny_experiment.yaml: 3 variants x 3 replications


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("tiny_region.yaml", "tiny_experiment.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def tree(root: Path, report: bool = False) -> dict[str, bytes]:
    """Every file under `root` (hidden ones included) by relative path; the HTML report
    that `woonsim experiment` builds at the end is left out unless `report`."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and (report or p.relative_to(root).parts[0] != "report")
    }


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "woonsim_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory) -> Path:
    """The tiny experiment swept serially, in this process (once per module)."""
    root = tmp_path_factory.mktemp("reference")
    for name in ("tiny_region.yaml", "tiny_experiment.yaml"):
        shutil.copy(DATA / name, root / name)
    result = sweep(load_experiment(root / "tiny_experiment.yaml"), root / "serial")
    assert (result.total, result.skipped, result.ran) == (TOTAL, 0, TOTAL)
    return root / "serial"


@pytest.fixture
def reference(folder: Path, reference_dir: Path) -> dict[str, bytes]:
    """The reference folder's files; a copy of the folder is at `folder / "serial"`."""
    shutil.copytree(reference_dir, folder / "serial")
    return tree(reference_dir)


# --- one run ------------------------------------------------------------------------------
def test_run_one_table_and_metadata(folder):
    exp = load_experiment(folder / "tiny_experiment.yaml")
    spec = exp.runs()[4]  # variant 1, replication 1
    assert (spec.run, spec.variant_index, spec.replication) == ("v01-p000-r001", 1, 1)
    assert pickle.loads(pickle.dumps(run_one)) is run_one
    spec = pickle.loads(pickle.dumps(spec))  # what a worker receives
    table = run_one(spec)
    plain = run_metrics(run(exp.scenario(1), np.random.SeedSequence(20251125, spawn_key=(0, 1))))
    assert table.column_names == [*plain.column_names, "run", "variant", "point", "replication"]
    for name in plain.column_names:
        a, b = table.column(name).to_numpy(), plain.column(name).to_numpy()
        np.testing.assert_array_equal(a, b)  # NaN equals NaN here
    assert table.schema.field("point").type == pa.int32()
    assert table.schema.field("replication").type == pa.int32()
    assert set(table.column("run").to_pylist()) == {"v01-p000-r001"}
    assert set(table.column("variant").to_pylist()) == {"30% floor"}
    assert set(table.column("point").to_pylist()) == {0}
    assert set(table.column("replication").to_pylist()) == {1}
    meta = json.loads(table.schema.metadata[b"woonsim"])
    base = json.loads(plain.schema.metadata[b"woonsim"])
    for key in ("seed", "scenario_sha256", "version"):
        assert meta[key] == base[key]
    assert meta["seed"] == {"entropy": 20251125, "spawn_key": [0, 1]}
    assert meta["scenario_sha256"] == exp.scenario(1).digest()
    assert meta["experiment_sha256"] == exp.sha256
    assert (meta["variant"], meta["replication"], meta["run"]) == ("30% floor", 1, "v01-p000-r001")


def test_folder_layout(folder, reference):
    exp = load_experiment(folder / "tiny_experiment.yaml")
    names = sorted(reference)
    runs = [f"runs/v{v:02d}-p000-r{r:03d}.parquet" for v in range(3) for r in range(3)]
    assert names == sorted(["experiment.json", "manifest.json", *runs])
    spec = json.loads(reference["experiment.json"])
    assert spec["sha256"] == exp.sha256 and spec["name"] == "tiny quota experiment"
    assert spec["points"] == [{}]
    assert spec["municipalities"] == ["GM1842", "GM0629"]
    assert spec["base_scenario"]["name"] == "tiny Haaglanden"
    manifest = json.loads(reference["manifest.json"])
    assert manifest["experiment_sha256"] == exp.sha256
    assert manifest["total_runs"] == TOTAL
    rows = manifest["runs"]
    assert [r["run"] for r in rows] == sorted(r["run"] for r in rows)
    assert [r["file"] for r in rows] == runs
    for r in rows:
        v, rep = int(r["run"][1:3]), int(r["run"][-3:])
        assert r["variant"] == exp.variant_names[v] and r["replication"] == rep
        assert r["seed"] == {"entropy": 20251125, "spawn_key": [0, rep]}  # paired
        data = reference[r["file"]]
        assert r["sha256"] == hashlib.sha256(data).hexdigest()
        table = pq.read_table(folder / "serial" / r["file"])
        assert set(table.column("run").to_pylist()) == {r["run"]}
    assert not any(Path(n).name.startswith(".") for n in names)


# --- executors ------------------------------------------------------------------------
class _CountingFuture(Future):
    def __init__(self, owner):
        super().__init__()
        self.owner = owner

    def result(self, timeout=None):
        with self.owner.lock:
            self.owner.outstanding -= 1
        return super().result(timeout)


class Shuffling(Executor):
    """Runs on two threads after a random delay (so runs finish out of order) and records
    how many runs were submitted and not yet collected."""

    def __init__(self):
        self.inner = ThreadPoolExecutor(2)
        self.lock = threading.Lock()
        self.outstanding = self.most = 0
        self.submitted: list[str] = []
        self.rng = random.Random(3)

    def submit(self, fn, /, *args, **kwargs):
        outer = _CountingFuture(self)
        with self.lock:
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
            self.submitted.extend(s.run for s in args[0])  # a task: a group of runs
            delay = self.rng.uniform(0, 0.3)

        def later():
            time.sleep(delay)
            return fn(*args, **kwargs)

        inner = self.inner.submit(later)

        def relay(f):
            if f.exception() is not None:
                outer.set_exception(f.exception())
            else:
                outer.set_result(f.result())

        inner.add_done_callback(relay)
        return outer

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.inner.shutdown(wait, cancel_futures=cancel_futures)


def test_bounded_window_and_completion_order(folder, reference):
    exp = load_experiment(folder / "tiny_experiment.yaml")
    ex = Shuffling()
    with ex:
        result = sweep(exp, folder / "shuffled", ex, window=3)
    assert result.ran == TOTAL
    assert ex.most == 3  # the window filled, and was never exceeded
    assert sorted(ex.submitted) == sorted(s.run for s in exp.runs())
    # submitted replication by replication: every variant of replication 0 first
    assert [s[-3:] for s in ex.submitted[:3]] == ["000"] * 3
    assert tree(folder / "shuffled") == reference


def test_process_pool_gives_the_same_bytes(folder, reference):
    exp = load_experiment(folder / "tiny_experiment.yaml")
    with process_pool(2) as ex:
        sweep(exp, folder / "pool", ex)
    assert tree(folder / "pool") == reference


def test_process_pool_replaces_its_workers():
    """Each worker serves TASKS_PER_WORKER runs, so a long sweep's workers cannot grow
    without bound (a calibration's did, past 12 GB); a backlog of queued runs must not
    deadlock the replacement (CPython gh-115634 hangs this with 2 runs per worker)."""
    from woonsim_experiments.executors import TASKS_PER_WORKER

    n = 12
    with process_pool(1) as ex:
        pids = list(ex.map(_pid, range(n)))
    assert len(set(pids)) == n // TASKS_PER_WORKER
    assert all(pids.count(p) == TASKS_PER_WORKER for p in pids)


def test_a_killed_pool_worker_loses_no_run(folder, reference):
    """A worker killed mid-sweep breaks a process pool (every task in it fails); the
    respawning pool starts a fresh one and runs those tasks again: the sweep ends with
    the serial bytes and blames no run."""
    from woonsim_experiments.executors import RespawningPool

    exp = load_experiment(folder / "tiny_experiment.yaml")
    out = folder / "killed-worker"
    ex = RespawningPool(2)
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set() and ex._generation == 0:
            if (out / "runs").is_dir() and any((out / "runs").glob("v*.parquet")):
                for proc in list((ex._pool._processes or {}).values()):
                    with contextlib.suppress(Exception):
                        os.kill(proc.pid, signal.SIGKILL)
                        break
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        result = sweep(exp, out, ex)
    finally:
        stop.set()
        thread.join()
        ex.shutdown()
    assert ex._generation >= 1, "no worker was killed"
    assert (result.total, result.ran) == (TOTAL, TOTAL)
    assert tree(out) == reference


LONG = 40  # replications of the long experiment: a sweep that outlasts a signal or a second start


def long_experiment(folder: Path) -> str:
    """The tiny experiment with `LONG` replications (a sweep that outlasts a signal sent
    after its first run), written beside it; its first 3 replications are the tiny
    experiment's runs."""
    text = (folder / "tiny_experiment.yaml").read_text()
    (folder / "long.yaml").write_text(text.replace("replications: 3", f"replications: {LONG}"))
    return "long.yaml"


def assert_reference_tables(out: Path, reference_dir: Path) -> None:
    """The runs of `reference_dir` are in `out` with the same tables (their metadata may
    name another experiment file)."""
    runs = sorted((reference_dir / "runs").glob("v*.parquet"))
    assert len(runs) == TOTAL
    for ref in runs:
        got = pq.read_table(out / "runs" / ref.name).to_pandas()
        assert got.equals(pq.read_table(ref).to_pandas()), ref.name


def test_sigterm_stops_the_workers_and_keeps_the_finished_runs(folder, reference_dir):
    """`kill -TERM` on `woonsim experiment`: it stops like Ctrl-C (exit 130), leaves no
    worker or forkserver behind, and the resume finishes the sweep with the serial
    tables. The sweep is long enough to outlast the signal."""
    out = folder / "termed"
    long = long_experiment(folder)
    cmd = [sys.executable, "-m", "woonsim_cli", "experiment", long]
    cmd += ["--out", str(out), "--workers", "2", "--no-report"]
    proc = _start_sweep(cmd, folder, stderr=subprocess.PIPE)
    try:
        _wait_for_runs(proc, out / "runs", 1)
        proc.send_signal(signal.SIGTERM)  # the main process only, as `kill` does
        assert proc.wait(60) == 130
        deadline = time.monotonic() + 20
        while True:  # the process group empties: no orphaned workers or forkserver
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "processes of the sweep survived SIGTERM"
            time.sleep(0.1)
        # read only now: a surviving worker would hold the pipe open
        assert "woonsim: interrupted" in proc.stderr.read().decode()
    finally:
        stop_process(proc)
    assert len(list((out / "runs").glob("v*.parquet"))) < 3 * LONG  # it was stopped
    resumed = cli("experiment", long, "--out", str(out), "--no-report", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list((out / "runs").glob("v*.parquet"))) == 3 * LONG
    assert_reference_tables(out, reference_dir)


def _start_sweep(cmd: list[str], folder: Path, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """`cmd` in its own process group (so that the test can signal it and its workers),
    with SIGINT at its default, as in a terminal's foreground job: a test run in the
    background (`cmd &`, nohup) inherits SIGINT ignored, and Python keeps it ignored."""
    return subprocess.Popen(
        cmd,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_foreground_signals,
    )


def _foreground_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_runs(proc: subprocess.Popen, runs: Path, n: int) -> None:
    """Until the running sweep has written `n` run files."""
    deadline = time.monotonic() + 120
    while not (runs.is_dir() and len(list(runs.glob("v*.parquet"))) >= n):
        assert proc.poll() is None, "the sweep ended before it could be stopped"
        assert time.monotonic() < deadline, "no runs written"
        time.sleep(0.01)


def _pid(_) -> int:
    return os.getpid()


def _dies_mid_result_once(marker: str) -> int:
    """The first time: write the header of a result message and die before its body, as a
    worker killed while it sends a run's table does. Then: 42."""
    if Path(marker).exists():
        return 42
    Path(marker).touch()
    _send_result_header()
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def _send_result_header() -> None:
    """In a pool worker: write the header of a result message (100,000 bytes to follow)
    and no body, as a worker stopped while it sends a run's table leaves it."""
    frame = sys._getframe()
    while frame.f_code.co_name != "_process_worker":
        frame = frame.f_back
    frame.f_locals["result_queue"]._writer._send((100_000).to_bytes(4, "big"))


def test_a_worker_that_dies_mid_result_does_not_hang_the_pool(tmp_path, monkeypatch):
    """CPython's pool waits for good on a result message cut short by a dead worker; the
    respawning pool's watchdog breaks that pool, and the task runs again in a fresh one."""
    from woonsim_experiments import executors

    monkeypatch.setattr(executors, "HUNG_AFTER_SECONDS", 1.0)
    ex = executors.RespawningPool(1)
    try:
        assert ex.submit(_dies_mid_result_once, str(tmp_path / "died")).result(60) == 42
        assert ex._generation == 1
    finally:
        ex.terminate()


def _stuck_mid_result(marker: str) -> int:
    """Write the header of a result message, say so, and wait: a worker that Ctrl-C or
    SIGTERM finds while it sends a run's table."""
    _send_result_header()
    Path(marker).touch()
    time.sleep(600)
    return 0


def test_terminate_ends_the_pool_even_mid_result(tmp_path):
    """Stopping a sweep (Ctrl-C, SIGTERM) kills its workers; one killed while it sent a
    result left a message cut short, the pool's manager thread waited for its rest, and
    the interpreter, which joins that thread at exit, never ended (CI: exit not within
    60 s of Ctrl-C). After `terminate` the manager thread ends."""
    from woonsim_experiments import executors

    ex = executors.RespawningPool(1)
    marker = tmp_path / "sending"
    try:
        ex.submit(_stuck_mid_result, str(marker))
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.01)
        manager = ex._pool._executor_manager_thread
        assert manager is not None and manager.is_alive()
    finally:
        ex.terminate()
    manager.join(20)
    assert not manager.is_alive(), "the pool's manager thread still waits: exit would hang"


@contextlib.contextmanager
def dask_cluster(tmp: Path, workers: int = 1, handles: list | None = None):
    """A local Dask cluster (`woonsim_experiments.cluster.local_cluster`) whose workers
    import this checkout; yields the scheduler's address, checked to be local."""
    from distributed import Client

    with local_cluster(tmp, workers, handles, env={"PYTHONPATH": str(REPO)}) as address:
        assert address.startswith("tcp://127.0.0.1:")
        with Client(address, timeout="60s") as client:
            assert sum(client.nthreads().values()) == workers
        yield address


def test_dask_cluster_gives_the_same_bytes(folder, reference):
    with dask_cluster(folder) as address:
        proc = cli(
            "experiment",
            str(folder / "tiny_experiment.yaml"),
            "--out",
            str(folder / "dask"),
            "--scheduler",
            address,
            cwd=folder,
        )
    assert proc.returncode == 0, proc.stderr
    assert f"results: {folder / 'dask'}" in proc.stdout
    assert tree(folder / "dask") == reference


def test_a_sweep_whose_dask_workers_all_died_stops_with_a_clear_error(folder, monkeypatch):
    """Every Dask worker dead: the sweep does not wait for ever; after the grace period
    it stops with one message, and the runs that finished are in the manifest."""
    from distributed import Client

    import woonsim_experiments.runner as runner

    monkeypatch.setattr(runner, "NO_WORKERS_GRACE", 3.0)
    exp = load_experiment(folder / "tiny_experiment.yaml")
    out, workers = folder / "orphaned", []
    with dask_cluster(folder, 1, workers) as address, Client(address, timeout="60s") as client:

        def kill_after_the_first_run(done: int, todo: int) -> None:
            if done == 1:
                workers[0].kill()
                workers[0].wait(30)

        t0 = time.monotonic()
        with pytest.raises(RunFailed, match="no worker has been there to run the sweep"):
            sweep(exp, out, client.get_executor(), kill_after_the_first_run)
        assert time.monotonic() - t0 < 100
    recorded = json.loads((out / "manifest.json").read_text())["runs"]
    assert len(recorded) >= 1
    assert {r["run"] for r in recorded} == {p.stem for p in (out / "runs").glob("v*.parquet")}


def test_cli_serial_and_default_folder(folder, reference):
    proc = cli("experiment", "tiny_experiment.yaml", "--workers", "1", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    out = folder / "results" / "tiny_experiment"
    assert proc.stdout.splitlines() == [
        f"results: {Path('results/tiny_experiment')} ({TOTAL} runs)",
        f"report: {Path('results/tiny_experiment/report/index.html')}",
    ]
    assert tree(out) == reference
    assert (out / "report" / "index.html").is_file()
    assert "9/9 runs" in proc.stderr


# --- resume -----------------------------------------------------------------------------
def test_resume_after_kill(folder):
    text = (
        (folder / "tiny_experiment.yaml").read_text().replace("replications: 3", "replications: 6")
    )
    (folder / "exp.yaml").write_text(text)
    exp = load_experiment(folder / "exp.yaml")
    total = len(exp.runs())
    assert total == 18
    sweep(exp, folder / "whole")
    build_report(folder / "whole")
    whole = tree(folder / "whole", report=True)

    out = folder / "killed"
    runs = out / "runs"
    cmd = [
        sys.executable,
        "-m",
        "woonsim_cli",
        "experiment",
        "exp.yaml",
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    proc = _start_sweep(cmd, folder)
    try:
        _wait_for_runs(proc, runs, 3)
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool workers
        proc.wait(30)
    finally:
        stop_process(proc)
    done = len(list(runs.glob("v*.parquet")))
    assert 3 <= done < total
    # what a kill in the middle of a write leaves behind
    (runs / ".v00-p000-r000.parquet.abc123.tmp").write_bytes(b"PAR1 half a file")
    (out / ".manifest.json.xyz.tmp").write_bytes(b"{")

    resumed = cli("experiment", "exp.yaml", "--out", str(out), "--workers", "2", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done} already done before" in resumed.stdout
    # nothing lost, nothing twice, no temporary files; the same report, byte for byte
    assert tree(out, report=True) == whole


class Counting(Executor):
    """Runs in this thread; records what was submitted."""

    def __init__(self):
        self.submitted: list[str] = []

    def submit(self, fn, /, *args, **kwargs):
        self.submitted.extend(s.run for s in args[0])
        f = Future()
        f.set_result(fn(*args, **kwargs))
        return f


def test_resume_skips_finished_runs(folder, reference):
    exp = load_experiment(folder / "tiny_experiment.yaml")
    out = folder / "serial"
    runs = out / "runs"
    before = {p.name: p.stat().st_mtime_ns for p in runs.iterdir()}
    (runs / "v02-p000-r001.parquet").unlink()
    (runs / "v01-p000-r002.parquet").write_bytes(b"PAR1 truncated")  # not a whole file
    (runs / ".v00-p000-r000.parquet.k1ll3d.tmp").write_bytes(b"PAR1")
    (out / "manifest.json").unlink()
    time.sleep(0.01)

    ex = Counting()
    result = sweep(exp, out, ex)
    assert sorted(ex.submitted) == ["v01-p000-r002", "v02-p000-r001"]
    assert (result.total, result.skipped, result.ran) == (TOTAL, TOTAL - 2, 2)
    after = {p.name: p.stat().st_mtime_ns for p in runs.iterdir()}
    assert set(after) == set(before)
    for name, t in before.items():
        if name not in ("v02-p000-r001.parquet", "v01-p000-r002.parquet"):
            assert after[name] == t, name
    assert tree(out) == reference

    ex = Counting()
    assert sweep(exp, out, ex).ran == 0 and ex.submitted == []
    assert tree(out) == reference


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # a one-bit flip inside the data; header and footer intact
    path.write_bytes(bytes(data))


def test_corrupt_or_swapped_run_files_are_refused_and_run_again(folder, reference, capsys):
    """A recorded file whose bytes no longer match the manifest, and another run's file
    under a run's name, are not finished: the report refuses them with one line, the
    resume runs them again (the same bytes as before) and the manifest keeps the good
    checksums."""
    exp = load_experiment(folder / "tiny_experiment.yaml")
    out, runs = folder / "serial", folder / "serial" / "runs"
    manifest = (out / "manifest.json").read_bytes()
    _flip_a_byte(runs / "v01-p000-r001.parquet")
    shutil.copy(runs / "v00-p000-r000.parquet", runs / "v02-p000-r002.parquet")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"woonsim: error: {runs}/v01-p000-r001.parquet: corrupt or replaced")
    assert "and 1 more" in err and err.count("\n") == 1

    ex = Counting()
    result = sweep(exp, out, ex)
    assert sorted(ex.submitted) == ["v01-p000-r001", "v02-p000-r002"]
    assert (result.skipped, result.ran, result.repaired) == (TOTAL - 2, 2, 2)
    assert (out / "manifest.json").read_bytes() == manifest
    assert tree(out) == reference


def test_unrecorded_files_are_checked_for_their_own_run(folder, reference):
    """Without the manifest (a kill before it was written), a whole file that names its
    own run is finished; another run's file, or a flipped bit that breaks the file, is not."""
    exp = load_experiment(folder / "tiny_experiment.yaml")
    out, runs = folder / "serial", folder / "serial" / "runs"
    (out / "manifest.json").unlink()
    shutil.copy(runs / "v00-p000-r000.parquet", runs / "v00-p000-r001.parquet")
    ex = Counting()
    result = sweep(exp, out, ex)
    assert ex.submitted == ["v00-p000-r001"]
    assert (result.skipped, result.repaired) == (TOTAL - 1, 1)
    assert tree(out) == reference


def test_a_new_version_or_new_data_is_another_experiment(folder, reference, monkeypatch):
    """The experiment's sha256 covers the woonsim version and the shipped data, so a
    resume after an upgrade refuses the folder instead of mixing results."""
    import woonsim
    import woonsim.data

    sha = load_experiment(folder / "tiny_experiment.yaml").sha256
    monkeypatch.setattr(woonsim, "__version__", "9.9.9")
    upgraded = load_experiment(folder / "tiny_experiment.yaml")
    assert upgraded.sha256 != sha
    with pytest.raises(FolderError, match="holds results of another experiment"):
        sweep(upgraded, folder / "serial")
    monkeypatch.undo()
    monkeypatch.setattr(woonsim.data, "data_digest", lambda: "f" * 64)
    assert load_experiment(folder / "tiny_experiment.yaml").sha256 not in (sha, upgraded.sha256)
    assert tree(folder / "serial") == reference


def test_report_of_a_partial_folder_says_what_is_missing(folder, reference, capsys):
    out, runs = folder / "serial", folder / "serial" / "runs"
    for name in ("v01-p000-r002", "v02-p000-r002"):
        (runs / f"{name}.parquet").unlink()
    assert main(["report", str(out), "--out", str(folder / "rep")]) == 0
    err = capsys.readouterr().err
    assert f"Incomplete: {TOTAL - 2} of the experiment's {TOTAL} runs are finished" in err
    page = (folder / "rep" / "index.html").read_text(encoding="utf-8")
    assert f"Incomplete: {TOTAL - 2} of the experiment&#x27;s {TOTAL} runs" in page


def test_report_of_an_experiment_of_the_baseline_alone(folder):
    """An experiment of one variant (replications of current practice) has no differences:
    its report gives the levels and leaves the difference figure out."""
    text = (folder / "tiny_experiment.yaml").read_text()
    (folder / "one.yaml").write_text(text.split("  - name: 30% floor")[0])
    exp = load_experiment(folder / "one.yaml")
    assert exp.variant_names == ["current practice"]
    sweep(exp, folder / "one")
    page = build_report(folder / "one").read_text(encoding="utf-8")
    assert "displacement.png" not in page and "waiting_cdf.png" in page
    assert not (folder / "one" / "report" / "displacement.png").exists()


def test_failed_run_keeps_the_others(folder, reference, monkeypatch):
    exp = load_experiment(folder / "tiny_experiment.yaml")

    def broken(spec):
        if spec.run == "v01-p000-r001":
            raise ValueError("boom")
        return run_one(spec)

    monkeypatch.setattr("woonsim_experiments.runner.run_one", broken)
    out = folder / "failed"
    with pytest.raises(
        RunFailed,
        match=r"^run v01-p000-r001 \(30% floor, replication 1\) "
        r"failed: ValueError: boom$",
    ):
        sweep(exp, out)
    # replication-major order: the three runs of replication 0 and v00-r001 came first
    written = sorted(p.name for p in (out / "runs").iterdir())
    assert written == [
        "v00-p000-r000.parquet",
        "v00-p000-r001.parquet",
        "v01-p000-r000.parquet",
        "v02-p000-r000.parquet",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["file"] for r in manifest["runs"]] == [f"runs/{n}" for n in written]
    monkeypatch.undo()
    assert sweep(exp, out).ran == TOTAL - 4
    assert tree(out) == reference


# --- refusing to mix ---------------------------------------------------------------------
def test_refuses_a_folder_of_another_experiment(folder, reference, capsys):
    other_file = folder / "other.yaml"
    other_file.write_text(
        (folder / "tiny_experiment.yaml").read_text().replace("root_seed: 20251125", "root_seed: 1")
    )
    other = load_experiment(other_file)
    out = folder / "serial"
    with pytest.raises(FolderError, match="holds results of another experiment"):
        sweep(other, out)
    assert main(["experiment", str(other_file), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"woonsim: error: {out}: holds results of another experiment")
    assert err.count("\n") == 1
    assert tree(out) == reference  # untouched


def test_refuses_other_folders(folder, capsys):
    exp = load_experiment(folder / "tiny_experiment.yaml")
    notes = folder / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("x")
    with pytest.raises(FolderError, match="not empty and not an experiment results folder"):
        sweep(exp, notes)
    assert sorted(p.name for p in notes.iterdir()) == ["todo.txt"]
    a_file = folder / "a_file"
    a_file.write_text("x")
    assert main(["experiment", str(folder / "tiny_experiment.yaml"), "--out", str(a_file)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert main(["experiment", str(folder / "tiny_experiment.yaml"), "--workers", "0"]) == 2
    assert "--workers: need at least 1" in capsys.readouterr().err
    assert not (folder / "results").exists()


def test_one_sweep_at_a_time(folder):
    import fcntl

    exp = load_experiment(folder / "tiny_experiment.yaml")
    out = folder / "busy"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(FolderError, match="another sweep is writing into this folder"):
            sweep(exp, out)
    finally:
        os.close(fd)
    assert list(out.iterdir()) == []
