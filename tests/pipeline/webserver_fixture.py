"""`dagster dev -w workspace.yaml` on loopback over a temp instance holding a small full graph."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.dagster_env import REPO_ROOT, dagster_environ


@dataclass(frozen=True)
class Webserver:
    """A running `dagster dev` and the run that materialized the assets it serves."""

    url: str
    run_id: str
    log: Path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited early:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout}s:\n{log.read_text()[-4000:]}")


@contextmanager
def dagster_dev(state: Path, lake: Path, timeout: float = 180) -> Iterator[str]:
    """Run `dagster dev` on a free loopback port; yield its URL, kill its process group after."""
    env = dagster_environ(state, lake)
    env.pop("DAGSTER_MODULE_NAME")  # the CLI refuses -w together with a module name
    dagster = Path(sys.executable).with_name("dagster")
    port = free_port()
    log = state / "dagster-dev.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/server_info", process, log, timeout)
        yield url
    finally:
        _kill_group(process)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group (webserver, daemon, code servers); SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        # Children may outlive the leader, so the group is killed even after the leader exits.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)


@contextmanager
def served_graph(state: Path, lake: Path, run_id: str) -> Iterator[Webserver]:
    """An instance's state and lake, materialized by run ``run_id``, served by `dagster dev`."""
    with dagster_dev(state, lake) as url:
        yield Webserver(url=url, run_id=run_id, log=state / "dagster-dev.log")
