"""Executors for sweeps: a local process pool, or a Dask cluster (`distributed.Client`)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor

__all__ = ["RespawningPool", "WorkerDied", "process_pool"]


# Each worker serves one run and is replaced: a long regional run leaves a worker's heap
# larger than it found it, and a calibration's workers, reused for a hundred runs, grew
# past 12 GB until the OOM killer stopped it. One task per worker is also the only setting
# that Python 3.11-3.13's max_tasks_per_child does not deadlock on when tasks queue up
# (CPython gh-115634). The forkserver imports the model first, so that a fresh worker costs
# a fork, not the imports.
TASKS_PER_WORKER = 1
PRELOAD = ["woonsim.simulate", "woonsim.measures", "woonsim_experiments.runner"]

# How often the watchdog looks at the workers, and how long a pool with a dead worker may
# stay unbroken before the watchdog breaks it (the pool's own manager normally takes
# milliseconds; a rerun of the broken pool's tasks is all that a false alarm costs).
WATCH_SECONDS = 0.5
HUNG_AFTER_SECONDS = 5.0


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool that starts workers with forkserver (fork is unsafe once pyarrow
    has started threads) and replaces each after `TASKS_PER_WORKER` runs."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=TASKS_PER_WORKER)


class RespawningPool(Executor):
    """A `process_pool` that survives the death of a worker (killed, or out of memory).

    A dead worker breaks a `ProcessPoolExecutor`: every task in it fails with
    `BrokenProcessPool`, including those of the healthy workers. This pool then starts a
    fresh pool and submits those tasks again, up to `retries` times each (a run is a pure
    function of its scenario and seed, so a rerun gives the same result); a task whose
    worker dies more often fails with `WorkerDied`, which names it as the suspect."""

    def __init__(self, workers: int, retries: int = 2):
        self._max_workers = workers  # what the sweep reads as its capacity
        self._retries = retries
        self._lock = threading.Lock()
        self._pool = process_pool(workers)
        self._generation = 0
        self._closed = False
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def _current(self) -> tuple[ProcessPoolExecutor, int]:
        with self._lock:
            return self._pool, self._generation

    def _renew(self, generation: int) -> None:
        """Replace the pool of `generation` if nobody has yet (one renewal per breakage)."""
        with self._lock:
            if generation != self._generation or self._closed:
                return
            broken, self._pool = self._pool, process_pool(self._max_workers)
            self._generation += 1
        broken.shutdown(wait=False, cancel_futures=True)

    def _watch(self) -> None:
        """Break a pool that hangs on a dead worker.

        CPython's pool (3.12) hangs for good when a worker dies while it writes its result
        (a run's table, larger than the pipe holds): the pool's manager thread waits for
        the rest of a message that never comes and never looks at the dead worker. When a
        worker has died (a signal or an error code) and the pool is still unbroken after
        `HUNG_AFTER_SECONDS`, this kills the pool's other workers and closes its result
        pipe's last writing end, so that the manager reads an end of file and breaks the
        pool as it would have: its tasks are then run again in a fresh pool."""
        watched, since = None, 0.0
        while True:
            time.sleep(WATCH_SECONDS)
            with self._lock:
                if self._closed:
                    return
                pool = self._pool
            processes = list((getattr(pool, "_processes", None) or {}).values())
            dead = any(p.exitcode not in (None, 0) for p in processes)
            if not dead or getattr(pool, "_broken", False):
                watched = None
                continue
            if watched is not pool:
                watched, since = pool, time.monotonic()
            elif time.monotonic() - since >= HUNG_AFTER_SECONDS:
                _unblock(processes, getattr(pool, "_result_queue", None))
                watched = None

    def submit(self, fn, /, *args, **kwargs) -> Future:
        outer: Future = Future()
        self._attempt(outer, fn, args, kwargs, 0)
        return outer

    def _attempt(self, outer: Future, fn, args, kwargs, attempt: int) -> None:
        pool, generation = self._current()
        try:
            inner = pool.submit(fn, *args, **kwargs)
        except BrokenExecutor:
            self._renew(generation)
            pool, generation = self._current()
            inner = pool.submit(fn, *args, **kwargs)
        except RuntimeError as err:  # shut down meanwhile
            if not outer.cancelled():
                outer.set_exception(err)
            return
        outer.add_done_callback(lambda o: inner.cancel() if o.cancelled() else None)

        def done(f: Future) -> None:
            if outer.cancelled() or f.cancelled():
                outer.cancel()
                return
            err = f.exception()
            if isinstance(err, BrokenExecutor) and not self._closed:
                if attempt < self._retries:
                    # not here: this callback runs under the broken pool's shutdown lock
                    threading.Thread(
                        target=self._retry,
                        args=(generation, outer, fn, args, kwargs, attempt + 1),
                        daemon=True,
                    ).start()
                    return
                err = WorkerDied(
                    f"its worker process died {attempt + 1} times (killed, or out of memory)"
                )
            if outer.set_running_or_notify_cancel():
                if err is None:
                    outer.set_result(f.result())
                else:
                    outer.set_exception(err)

        inner.add_done_callback(done)

    def _retry(self, generation: int, outer: Future, fn, args, kwargs, attempt: int) -> None:
        self._renew(generation)
        self._attempt(outer, fn, args, kwargs, attempt)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def terminate(self) -> None:
        """Stop at once: cancel what is queued and kill the workers (SIGTERM, Ctrl-C),
        also one the forkserver was starting meanwhile (not yet known to the pool), then
        the forkserver itself: nothing is left behind. A worker killed while it sent a
        result leaves the pool's manager thread waiting for the rest of the message, and
        the interpreter joins that thread at exit; closing the result pipe's last writing
        end (`_unblock`) ends it."""
        with self._lock:
            self._closed = True
            pool = self._pool
        processes = list((getattr(pool, "_processes", None) or {}).values())
        results = getattr(pool, "_result_queue", None)  # shutdown forgets it
        pool.shutdown(wait=False, cancel_futures=True)
        _unblock(processes, results)
        _stop_forkserver()


def _stop_forkserver() -> None:
    """Kill the forkserver's children (workers, also half-started ones) and the
    forkserver (Linux: its children from /proc; elsewhere the forkserver alone)."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if not pid:
        return
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                children += [int(c) for c in fh.read().split()]
    for p in [*children, pid]:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    # until it is dead (not reaped: multiprocessing does that, and then starts a fresh
    # forkserver for the next pool in this process instead of writing to this one)
    with contextlib.suppress(OSError):
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def _unblock(processes: list, results) -> None:
    """Kill a pool's worker `processes` and close the parent's writing end of its result
    queue `results`: its manager's read, waiting for a message cut short by a dead
    worker, ends."""
    for p in processes:
        with contextlib.suppress(Exception):
            p.kill()
    for p in processes:
        with contextlib.suppress(Exception):
            p.join(5)
    with contextlib.suppress(Exception):
        results._writer.close()


class WorkerDied(RuntimeError):
    """A task's worker process died each time it ran it."""
