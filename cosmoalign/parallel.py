"""Per-image CPU work (segmentation, measurement) spread over processes.

NumPy, SciPy and scikit-image hold the GIL through much of a galaxy's measurement, so threads do
not scale; worker processes are started with ``spawn`` (safe inside Dagster's multi-threaded
step processes) once and reused for every batch of a stage.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Processes to use: ``$COSMOALIGN_WORKERS`` or one per core."""
    return int(os.environ.get("COSMOALIGN_WORKERS", 0)) or os.cpu_count() or 1


def process_pool(workers: int | None = None) -> Executor | None:
    """A process pool of ``workers`` (default :func:`default_workers`); None for one worker."""
    workers = workers or default_workers()
    if workers <= 1:
        return None
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


@contextmanager
def worker_pool(workers: int | None = None) -> Iterator[Executor | None]:
    """:func:`process_pool`, shut down on exit."""
    pool = process_pool(workers)
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown()


def pool_map(
    pool: Executor | None, function: Callable[[T], R], items: Iterable[T], chunksize: int = 4
) -> list[R]:
    """``map`` on the pool (in order), or in this process when there is none."""
    if pool is None:
        return [function(item) for item in items]
    return list(pool.map(function, items, chunksize=chunksize))
