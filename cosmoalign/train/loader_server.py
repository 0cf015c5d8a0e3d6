"""How loader workers start: from a fork server that has imported the training data code but
never used Lance. Lance is not fork-safe: a worker forked from the training process, which has
read the lake, can crash (it did, with a segmentation fault).

A training process starts the server first thing, before it touches the lake, as a fork of
itself (:func:`start_loader_server`) rather than multiprocessing's fresh interpreter. Launched
inline from a warm process (:mod:`cosmoalign.inline_launch`) the trainer has torch and open_clip
imported already, and so has its server: the first worker starts at once instead of waiting
about 10 s for a new interpreter's imports. In a fresh trainer the server imports them beside
the trainer's own imports (on two cores the two overlap).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import socket
import sys
from multiprocessing import connection, forkserver, resource_tracker

# What a worker needs to unpickle the dataset and collate (transforms, tokenizers), imported
# once in the server, not again in each epoch's fresh worker.
WORKER_MODULES = ["cosmoalign.train.data", "open_clip", "transformers", "torchvision.transforms"]


def loader_context() -> multiprocessing.context.BaseContext:
    """The fork-server context loader workers start from."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    return context


def start_loader_server() -> None:
    """Start the fork server now, forked from this process; idempotent. Where this process has
    loaded Lance, or multiprocessing's fork server works otherwise than this code knows (it
    gained an authentication key in Python 3.14), the server is multiprocessing's own."""
    loader_context()
    server = forkserver._forkserver
    if "lance" in sys.modules or hasattr(server, "_forkserver_authkey"):
        forkserver.ensure_running()
        return
    with server._lock:
        if server._forkserver_pid is not None:
            return
        resource_tracker.ensure_running()
        address = connection.arbitrary_address("AF_UNIX")
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(address)
            os.chmod(address, 0o600)
            listener.listen()
            alive_r, alive_w = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _serve(listener.fileno(), alive_r, alive_w)
        os.close(alive_r)
        server._forkserver_address = address
        server._forkserver_alive_fd = alive_w
        server._forkserver_pid = pid


def _serve(listener_fd: int, alive_r: int, alive_w: int) -> None:
    """In the forked server: serve worker starts until every client has exited; never returns."""
    code = 1
    try:
        os.close(alive_w)  # the server ends when the clients' ends of this pipe are all closed
        forkserver.main(listener_fd, alive_r, WORKER_MODULES)
    except SystemExit:  # how forkserver.main ends once the last client has exited
        code = 0
    finally:
        os._exit(code)
