"""How loader workers start: from a fork server that has imported the training data code but
never used Lance. Lance is not fork-safe: a worker forked from the training process, which has
read the lake, can crash (it did, with a segmentation fault).

This module imports nothing heavy, so a training process can start the server first thing and
let it import torch and open_clip while the process imports them itself (on two cores the two
overlap; started lazily, the first worker waited about 9 s for the server's imports)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
from multiprocessing import forkserver

# What a worker needs to unpickle the dataset and collate (transforms, tokenizers), imported
# once in the server, not again in each epoch's fresh worker.
WORKER_MODULES = ["cosmoalign.train.data", "open_clip", "transformers", "torchvision.transforms"]


def loader_context() -> multiprocessing.context.BaseContext:
    """The fork-server context loader workers start from."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    return context


def start_loader_server() -> None:
    """Start the fork server now (its imports run beside the caller's); idempotent."""
    loader_context()
    forkserver.ensure_running()
