"""`dagster dev -w workspace.yaml` on loopback serves the assets, their lineage and partitions."""

import pytest
import requests

from tests.pipeline.webserver_fixture import served_ingest

QUERY = """{ assetNodes { assetKey { path } dependencyKeys { path }
  assetMaterializations(partitions: ["embedded"], limit: 1) { runId partition } } }"""


@pytest.mark.slow
def test_web_ui_shows_materialized_assets_with_lineage(tmp_path):
    with served_ingest(tmp_path) as server:
        answer = requests.post(f"{server.url}/graphql", json={"query": QUERY}, timeout=60).json()

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
        assert materialization == {"runId": server.run_id, "partition": "embedded"}
