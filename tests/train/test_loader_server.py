"""The loader workers' fork server is a fork of the training process, made before it reads the
lake: no second interpreter importing torch again."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, os, sys
import torch
from multiprocessing import forkserver
from cosmoalign.train.loader_server import loader_context, start_loader_server

start_loader_server()
server = forkserver._forkserver._forkserver_pid
with loader_context().Pool(1) as pool:
    worker_parent = pool.apply(os.getppid)
with open(f"/proc/{server}/cmdline", "rb") as cmdline:
    server_cmdline = cmdline.read()
with open("/proc/self/cmdline", "rb") as cmdline:
    own_cmdline = cmdline.read()
print(json.dumps({
    "forked": server_cmdline == own_cmdline,
    "worker_from_server": worker_parent == server,
}))
"""


def test_the_loader_server_is_a_fork_of_the_trainer_and_starts_its_workers():
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"forked": True, "worker_from_server": True}
