"""`dagster dev -w workspace.yaml` on loopback serves the assets, their lineage and partitions."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from assets.ingest import balanced, curated, raw
from resources import LakeResource, SurveySources
from resources.sources import EmbeddedConfig
from tests.dagster_env import REPO_ROOT, dagster_environ, repo_instance

QUERY = """{ assetNodes { assetKey { path } dependencyKeys { path }
  assetMaterializations(partitions: ["embedded"], limit: 1) { runId partition } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "dagster dev exited early"
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@pytest.mark.slow
def test_web_ui_shows_materialized_assets_with_lineage(tmp_path):
    state, lake = tmp_path / "dagster", tmp_path / "lake"
    with repo_instance(state) as instance:
        result = dg.materialize(
            dg.load_assets_from_modules([raw, curated, balanced]),
            partition_key="embedded",
            instance=instance,
            resources={
                "lake": LakeResource(root=str(lake)),
                "sources": SurveySources(
                    embedded=EmbeddedConfig(total=0, min_per_class=3, size=48, include_hst=False)
                ),
            },
        )
        assert result.success

    port = _free_port()
    env = dagster_environ(state, lake)
    env.pop("DAGSTER_MODULE_NAME")  # the CLI refuses -w together with a module name
    dagster = Path(sys.executable).with_name("dagster")
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/server_info", process)
        answer = requests.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=60
        ).json()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)

    nodes = {node["assetKey"]["path"][0]: node for node in answer["data"]["assetNodes"]}
    assert {
        name: [d["path"][0] for d in node["dependencyKeys"]] for name, node in nodes.items()
    } == {
        "raw_images": [],
        "curated_images": ["raw_images"],
        "balanced_images": ["curated_images"],
        "captions": ["balanced_images", "curated_images"],
        "symbols": ["curated_images"],
        "regions": ["balanced_images", "curated_images"],
    }
    for name in ("raw_images", "curated_images", "balanced_images"):
        [materialization] = nodes[name]["assetMaterializations"]
        assert materialization == {"runId": result.run_id, "partition": "embedded"}
