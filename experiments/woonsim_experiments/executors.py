"""Executors for sweeps: a local process pool, or a Dask cluster (`distributed.Client`)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

__all__ = ["process_pool"]


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool that starts workers with forkserver (fork is unsafe once pyarrow
    has started threads)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))
