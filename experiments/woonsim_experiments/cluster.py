"""A local Dask cluster: a scheduler and single-threaded workers on 127.0.0.1, as separate
processes (what `dask scheduler` and `dask worker` start on a real cluster). The
benchmark times national runs on it, and the tests run sweeps through it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["local_cluster", "stop_process"]


def _command(name: str) -> list[str]:
    """`dask scheduler` / `dask worker` of this interpreter's environment."""
    dask = Path(sys.executable).parent / "dask"
    if dask.exists():
        return [str(dask), name]
    return [sys.executable, "-m", f"distributed.cli.dask_{name}"]


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process and its group: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextlib.contextmanager
def local_cluster(
    folder: Path, workers: int = 1, handles: list | None = None, env: dict | None = None
) -> Iterator[str]:
    """A Dask scheduler and `workers` single-threaded workers on 127.0.0.1, their logs and
    scratch space in `folder`; yields the scheduler's address once every worker has joined
    (the worker processes are appended to `handles`, when given). Everything is stopped
    on the way out. RuntimeError when the cluster does not come up within 120 s."""
    from distributed import Client

    folder = Path(folder)
    info = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False", **(env or {})}
    quiet = ["--host", "127.0.0.1", "--no-dashboard"]
    commands = [("scheduler", [*_command("scheduler"), *quiet, "--port", "0"])]
    for k in range(workers):
        worker = [*_command("worker"), *quiet, "--nthreads", "1", "--no-nanny"]
        worker += ["--memory-limit", "0", "--death-timeout", "120"]
        commands.append((f"worker{k}", [*worker, "--local-directory", str(folder / f"w{k}")]))
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        for name, cmd in commands:
            log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            cmd = [*cmd, "--scheduler-file", str(info)]
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            if name != "scheduler" and handles is not None:
                handles.append(procs[-1])
            if name == "scheduler":
                deadline = time.monotonic() + 120
                while not info.exists() or not info.read_text().strip():
                    if procs[0].poll() is not None or time.monotonic() > deadline:
                        tail = (folder / "scheduler.log").read_text(errors="replace")[-500:]
                        raise RuntimeError(f"the Dask scheduler did not start: {tail}")
                    time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        for log in logs:
            log.close()
