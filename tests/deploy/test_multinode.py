"""The launcher's own ``accelerate launch`` line, run for real: one machine, two processes on CPU
(gloo), as a training pod would run it (``tests/train`` trains through DDP the same way)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dagster_k8s", reason="the k8s extra is not installed: pip install '.[k8s]'")

from resources.k8s_launcher import K8sAccelerateLauncher

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_pod_command_runs_two_processes_in_one_process_group(tmp_path):
    launcher = K8sAccelerateLauncher(
        image="unused", cpu=True, num_machines=1, num_processes=2, main_process_port=_free_port()
    )
    pods = launcher.plan("train-local", "default")
    out = tmp_path / "seen.json"
    command = launcher.pod_command(pods, "tests.deploy.ddp_probe", [str(out)], 0)
    assert command[:2] == ["accelerate", "launch"]  # the console script of the image
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(out.read_text())
    assert summary["world"] == 2 and summary["backend"] == "gloo"
    assert sorted(seen["rank"] for seen in summary["seen"]) == [0, 1]
    assert {seen["node_rank"] for seen in summary["seen"]} == {0}  # --machine_rank 0
