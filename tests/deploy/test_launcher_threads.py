"""A launched training process gets the machine's cores and Accelerate's environment, whether
``accelerate launch`` starts it or it runs inline (in one subprocess, or forked warm from the
launching process): Accelerate's own default on a GPU-less machine without ``--cpu`` is one
thread."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from cosmoalign.inline_launch import WarmLaunch, can_fork_warm
from resources.launcher import INLINE_LAUNCH, LOCAL_LAUNCH, AccelerateLauncher

# The test process has loaded Lance, which warns on any fork; the launcher forks only where it
# has not (can_fork_warm), and these children never touch it.
pytestmark = pytest.mark.filterwarnings("ignore:lance is not fork-safe")

PROBE = """
import json, os, sys, torch
names = ("ACCELERATE_", "OMP_NUM_THREADS")
settings = {k: v for k, v in os.environ.items() if k.startswith(names)}
with open(sys.argv[1], "w") as out:
    json.dump({"threads": torch.get_num_threads(), "env": settings, "argv": sys.argv[1:]}, out)
"""


@pytest.fixture
def probe_env(tmp_path) -> dict[str, str]:
    (tmp_path / "thread_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def test_launched_inline_and_forked_processes_get_every_core_and_the_same_settings(
    tmp_path, probe_env
):
    launcher = AccelerateLauncher()
    outputs = {how: tmp_path / f"{how}.json" for how in ("launched", "inline", "forked")}
    commands = {how: launcher.command("thread_probe", [str(out)]) for how, out in outputs.items()}
    for how in ("launched", "inline"):
        command = commands[how]
        if how == "inline":
            command = [*INLINE_LAUNCH, *command[len(LOCAL_LAUNCH) :]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=probe_env)
        assert done.returncode == 0, done.stderr[-2000:]
    forked = WarmLaunch([*commands["forked"][len(LOCAL_LAUNCH) :], "--flag"], probe_env)
    assert forked.wait(timeout=120) == 0
    seen = {how: json.loads(out.read_text()) for how, out in outputs.items()}
    cores = len(os.sched_getaffinity(0))
    assert {how: probe["threads"] for how, probe in seen.items()} == dict.fromkeys(seen, cores)
    assert seen["inline"]["env"] == seen["forked"]["env"] == seen["launched"]["env"]
    assert seen["launched"]["env"]["ACCELERATE_MIXED_PRECISION"] == "no"
    assert seen["forked"]["argv"] == [str(outputs["forked"]), "--flag"]


@pytest.mark.parametrize(
    ("body", "code"), [("raise RuntimeError('bad row')", 1), ("import sys; sys.exit(3)", 3)]
)
def test_a_forked_launch_reports_failure_by_its_exit_code(tmp_path, probe_env, body, code):
    (tmp_path / "failing.py").write_text(body + "\n")
    command = AccelerateLauncher().command("failing", [])
    assert WarmLaunch(command[len(LOCAL_LAUNCH) :], probe_env).wait(timeout=60) == code


def test_a_forked_launch_stops_on_sigint(tmp_path, probe_env):
    (tmp_path / "forever.py").write_text("import time\nwhile True:\n    time.sleep(0.1)\n")
    process = WarmLaunch(
        AccelerateLauncher().command("forever", [])[len(LOCAL_LAUNCH) :], probe_env
    )
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=1)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 1


def test_no_warm_fork_once_lance_is_loaded(monkeypatch):
    monkeypatch.delitem(__import__("sys").modules, "lance", raising=False)
    assert can_fork_warm()
    monkeypatch.setitem(__import__("sys").modules, "lance", object())
    assert not can_fork_warm()


QUEUE_HOLDER = """
import multiprocessing
queue = multiprocessing.get_context("spawn").Queue()
queue.put("sent")
print(queue.get())
cycle = {"queue": queue}
cycle["cycle"] = cycle  # held past the module's end, as a data loader's queues can be
"""
FORKING_PARENT = """
import os, sys
from multiprocessing import resource_tracker
from cosmoalign.inline_launch import WarmLaunch
resource_tracker.ensure_running()  # shared with the child, as a step's fork server shares it
launch = WarmLaunch(sys.argv[1:], dict(os.environ))
sys.exit(launch.wait(timeout=60))
"""


def test_a_forked_launch_cleans_up_its_queues_semaphores(tmp_path, probe_env):
    (tmp_path / "queue_holder.py").write_text(QUEUE_HOLDER)
    command = AccelerateLauncher().command("queue_holder", [])
    done = subprocess.run(
        [sys.executable, "-c", FORKING_PARENT, *command[len(LOCAL_LAUNCH) :]],
        capture_output=True,
        text=True,
        timeout=120,
        env=probe_env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "sent"
    assert "leaked semaphore" not in done.stderr
