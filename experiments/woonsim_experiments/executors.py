"""Executors for sweeps: a local process pool, or a Dask cluster (`distributed.Client`)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

__all__ = ["process_pool"]


# Each worker serves one run and is replaced: a long regional run leaves a worker's heap
# larger than it found it, and a calibration's workers, reused for a hundred runs, grew
# past 12 GB until the OOM killer stopped it. One task per worker is also the only setting
# that Python 3.11-3.13's max_tasks_per_child does not deadlock on when tasks queue up
# (CPython gh-115634). The forkserver imports the model first, so that a fresh worker costs
# a fork, not the imports.
TASKS_PER_WORKER = 1
PRELOAD = ["woonsim.simulate", "woonsim.measures", "woonsim_experiments.runner"]


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool that starts workers with forkserver (fork is unsafe once pyarrow
    has started threads) and replaces each after `TASKS_PER_WORKER` runs."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=TASKS_PER_WORKER)
