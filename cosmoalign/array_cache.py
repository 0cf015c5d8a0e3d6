"""Arrays computed once and kept in an ``.npz`` file named by a key of what they depend on
(embeddings, rendered images, map projections of the evaluation cache). A hit renews the file's
modification time, by which :func:`cosmoalign.work_folders.trim_to_size` keeps the cache."""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cosmoalign.files import atomic_output

Arrays = dict[str, np.ndarray]


def cached_arrays(
    path: Path | None,
    compute: Callable[[], Arrays],
    fits: Callable[[Arrays], bool] = lambda _: True,
) -> Arrays:
    """The arrays stored at ``path``, else ``compute()``'s, written there whole when ``path``
    is set. A file that is unreadable, or whose arrays ``fits`` refuses, is computed again and
    replaced."""
    if path is not None and path.is_file():
        try:
            with np.load(path) as stored:
                arrays = dict(stored)
        except (OSError, EOFError, ValueError, zipfile.BadZipFile):
            arrays = None
        if arrays is not None and fits(arrays):
            with contextlib.suppress(OSError):  # a read-only cache still serves
                os.utime(path)
            return arrays
    arrays = compute()
    if path is not None:
        with atomic_output(path) as handle:
            np.savez(handle, **arrays)
    return arrays
