"""Faults in sweeps (issue 16), each survived with nothing lost or duplicated: the runner
killed at several points, a full disk, bit flips in every file of a results folder, two
runners on one folder, Ctrl-C on the whole process group, a report during a sweep.
(tests/test_runner.py holds the others: a killed pool worker, SIGTERM, corrupt and
swapped run files, Dask workers that die.)

The full disk is a 48 kB tmpfs where mounting is permitted (root in CI); where it is not
that test is skipped, and the same fault is planted with a file-size limit
(RLIMIT_FSIZE, SIGXFSZ ignored: a write fails with EFBIG as it would with ENOSPC), which
runs everywhere."""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner import (
    LONG,
    REPO,
    TOTAL,
    _start_sweep,
    _wait_for_runs,
    assert_reference_tables,
    cli,
    long_experiment,
    tree,
)

from woonsim_experiments.cluster import stop_process as _stop
from woonsim_experiments.experiment import load_experiment
from woonsim_experiments.runner import sweep

DATA = Path(__file__).parent / "data"
EXPERIMENT = ["experiment", "tiny_experiment.yaml"]


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    for name in ("tiny_region.yaml", "tiny_experiment.yaml"):
        shutil.copy(DATA / name, root / name)
    sweep(load_experiment(root / "tiny_experiment.yaml"), root / "serial")
    return root / "serial"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("tiny_region.yaml", "tiny_experiment.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def no_temporary_files(out: Path) -> None:
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")], list(out.rglob("*"))


def one_line(stderr: str) -> str:
    lines = [x for x in stderr.splitlines() if not x.startswith(("tiny quota", "experiment:"))]
    assert len(lines) == 1 and lines[0].startswith("woonsim: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# --- the runner killed at several points ---------------------------------------------------
@pytest.mark.parametrize("point", ["before any run", "after every run, before the report"])
def test_killed_at_several_points(folder, reference_dir, point):
    """SIGKILL to the sweep and its workers at another point than test_runner's (mid-sweep):
    as soon as experiment.json exists, and once every run file is written (while the
    manifest and the report are being written). The resume loses and repeats nothing."""
    out = folder / "killed"
    cmd = [sys.executable, "-m", "woonsim_cli", *EXPERIMENT, "--out", str(out), "--workers", "2"]
    proc = _start_sweep(cmd, folder)
    try:
        if point == "before any run":
            deadline = time.monotonic() + 120
            while not (out / "experiment.json").exists():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.005)
        else:
            _wait_for_runs(proc, out / "runs", TOTAL)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        _stop(proc)
    resumed = cli(*EXPERIMENT, "--out", str(out), "--workers", "2", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert tree(out) == tree(reference_dir)
    assert (out / "report" / "index.html").exists()
    no_temporary_files(out)


# --- a full disk ---------------------------------------------------------------------------
@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); see the rlimit test"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_disk_on_a_small_tmpfs(folder, reference_dir):
    """A 48 kB disk fills after two run files: one line, exit 2, no half-written file; on
    a larger disk the resume completes with the same bytes."""
    with tmpfs(folder / "disk", "48k") as disk:
        out = disk / "out"
        full = cli(*EXPERIMENT, "--out", str(out), "--workers", "1", "--no-report", cwd=folder)
        assert full.returncode == 2, full.stderr
        assert "No space left on device" in one_line(full.stderr)
        no_temporary_files(out)
        done = len(list((out / "runs").glob("*.parquet")))
        assert 0 < done < TOTAL
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        resumed = cli(*EXPERIMENT, "--out", str(out), "--workers", "1", "--no-report", cwd=folder)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{done} already done before" in resumed.stdout
        assert tree(out) == tree(reference_dir)


def _limited(max_bytes: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
        os.setsid()

    return preexec


def test_full_disk_by_a_file_size_limit(folder, reference_dir):
    """No file may grow past 12 kB: the manifest outgrows it after a few runs. One line,
    exit 2, nothing half-written; without the limit the resume completes the same bytes."""
    out = folder / "out"
    p = subprocess.run(
        [sys.executable, "-m", "woonsim_cli", *EXPERIMENT, "--out", str(out), "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=_limited(12_000),
    )
    assert p.returncode == 2, p.stderr
    assert "File too large" in one_line(p.stderr)
    no_temporary_files(out)
    resumed = cli(*EXPERIMENT, "--out", str(out), "--workers", "1", "--no-report", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert tree(out) == tree(reference_dir)


# --- bit flips in every file ---------------------------------------------------------------
def test_a_bit_flip_in_any_file_is_refused_or_repaired(folder, reference_dir):
    """One flipped bit in each file of a finished folder in turn (a seeded position): the
    report refuses it with one line or is unaffected, and the resume restores the same
    bytes or refuses with one line; never a traceback, never a silently wrong result."""
    rng = random.Random(16)
    names = sorted(p.relative_to(reference_dir).as_posix() for p in reference_dir.rglob("*.*"))
    assert "experiment.json" in names and "manifest.json" in names
    for name in names:
        out = folder / name.replace("/", "_")
        shutil.copytree(reference_dir, out)
        data = bytearray((out / name).read_bytes())
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        (out / name).write_bytes(bytes(data))
        report = cli("report", str(out), "--out", str(folder / "rep"), cwd=folder)
        assert report.returncode in (0, 2), report.stderr
        if report.returncode == 2:
            one_line(report.stderr)
        elif name.startswith("runs/"):
            pytest.fail(f"the report read a flipped {name} without a word")
        resumed = cli(*EXPERIMENT, "--out", str(out), "--workers", "1", "--no-report", cwd=folder)
        if resumed.returncode == 2:  # the folder's own record is damaged: refused
            assert name in ("experiment.json", "manifest.json"), resumed.stderr
            one_line(resumed.stderr)
        else:
            assert resumed.returncode == 0, resumed.stderr
            assert tree(out) == tree(reference_dir), name


# --- two runners, Ctrl-C, a report during a sweep ------------------------------------------
@pytest.fixture
def long_sweep(folder: Path) -> list[str]:
    return ["experiment", long_experiment(folder)]


def finished_once(out: Path, folder: Path, exp: list[str]) -> None:
    """Every run finished, each once: the resume finds nothing to do."""
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    runs = [r["run"] for r in manifest["runs"]]
    assert len(runs) == len(set(runs)) == 3 * LONG
    again = cli(*exp, "--out", str(out), "--workers", "1", "--no-report", cwd=folder)
    assert again.returncode == 0 and f"{3 * LONG} already done before" in again.stdout


def test_two_runners_on_one_folder(folder, long_sweep):
    """A second sweep into a folder that a running sweep holds is refused with one line;
    the first finishes every run once."""
    out = folder / "shared"
    cmd = [sys.executable, "-m", "woonsim_cli", *long_sweep, "--out", str(out), "--workers", "1"]
    first = _start_sweep([*cmd, "--no-report"], folder, stderr=subprocess.PIPE)
    try:
        _wait_for_runs(first, out / "runs", 1)
        second = cli(*long_sweep, "--out", str(out), "--workers", "1", cwd=folder)
        busy = len(list((out / "runs").glob("v*.parquet"))) < 3 * LONG
        assert busy, "the first sweep ended before the second started: make LONG larger"
        assert second.returncode == 2
        assert "another sweep is writing into this folder" in one_line(second.stderr)
        assert first.wait(600) == 0
    finally:
        _stop(first)
    finished_once(out, folder, long_sweep)


def test_ctrl_c_stops_the_workers_too(folder, reference_dir, long_sweep):
    """Ctrl-C in a terminal signals the whole foreground group: the sweep stops (exit 130),
    no worker or forkserver survives, and the resume finishes every run once, with the
    reference bytes (the long sweep's first replications are the tiny experiment's runs).
    The long sweep outlasts the signal: the tiny one can end before it arrives."""
    out = folder / "interrupted"
    cmd = [sys.executable, "-m", "woonsim_cli", *long_sweep, "--out", str(out), "--workers", "2"]
    proc = _start_sweep([*cmd, "--no-report"], folder, stderr=subprocess.PIPE)
    try:
        _wait_for_runs(proc, out / "runs", 1)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 130
        deadline = time.monotonic() + 20
        while True:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "processes of the sweep survived Ctrl-C"
            time.sleep(0.1)
        # read only now: a surviving worker would hold the pipe open
        assert "woonsim: interrupted" in proc.stderr.read().decode()
    finally:
        _stop(proc)
    assert len(list((out / "runs").glob("v*.parquet"))) < 3 * LONG  # it was stopped
    resumed = cli(*long_sweep, "--out", str(out), "--no-report", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    finished_once(out, folder, long_sweep)
    assert_reference_tables(out, reference_dir)


def test_a_report_during_a_sweep(folder, long_sweep):
    """A report of a folder still being written reads the finished runs and says how many
    are missing; the sweep is not disturbed and finishes every run once."""
    out = folder / "busy"
    cmd = [sys.executable, "-m", "woonsim_cli", *long_sweep, "--out", str(out), "--workers", "1"]
    proc = _start_sweep([*cmd, "--no-report"], folder, stderr=subprocess.PIPE)
    try:
        _wait_for_runs(proc, out / "runs", 3)  # a whole replication of every variant
        report = cli("report", str(out), "--out", str(folder / "rep"), cwd=folder)
        assert report.returncode == 0, report.stderr
        assert "runs are finished" in report.stderr and "Incomplete:" in report.stderr
        assert proc.wait(600) == 0
    finally:
        _stop(proc)
    finished_once(out, folder, long_sweep)
