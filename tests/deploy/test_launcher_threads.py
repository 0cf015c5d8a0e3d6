"""``accelerate launch`` from the launcher gives each training process the machine's cores:
Accelerate's own default on a GPU-less machine without ``--cpu`` is one thread."""

from __future__ import annotations

import os
import subprocess

from resources.launcher import AccelerateLauncher

PROBE = "import torch; print('threads', torch.get_num_threads())"


def test_a_launched_process_gets_every_core_it_may_use(tmp_path):
    probe = tmp_path / "thread_probe.py"
    probe.write_text(PROBE + "\n")
    command = AccelerateLauncher().command("thread_probe", [])
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    threads = int(done.stdout.split("threads", 1)[1].split()[0])
    assert threads == len(os.sched_getaffinity(0))
