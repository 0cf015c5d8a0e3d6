"""`dagster dev -w workspace.yaml` on loopback serves the assets, their lineage and partitions."""

import pytest
import requests

from tests.pipeline.webserver_fixture import Webserver

RECIPES = ("cosmoclip", "galaxalign", "grain")

QUERY = """{ assetNodes { assetKey { path } dependencyKeys { path }
  assetMaterializations(partitions: ["embedded"], limit: 1) { runId partition } } }"""


@pytest.mark.slow
def test_web_ui_shows_materialized_assets_with_lineage(webserver: Webserver):
    answer = requests.post(f"{webserver.url}/graphql", json={"query": QUERY}, timeout=60).json()

    nodes = {"/".join(node["assetKey"]["path"]): node for node in answer["data"]["assetNodes"]}
    lineage = {
        name: sorted("/".join(d["path"]) for d in node["dependencyKeys"])
        for name, node in nodes.items()
    }
    models = {f"{recipe}_model": ["training_pairs"] for recipe in RECIPES}
    evaluations = {
        f"{recipe}_evaluation": sorted([f"{recipe}_model", "training_pairs"]) for recipe in RECIPES
    }
    per_shard = {
        "shards/raw_images": [],
        "shards/curated_images": ["shards/raw_images"],
        "shards/measurements": ["balanced_images", "shards/curated_images"],
        "shards/captions": ["balanced_images", "shards/curated_images", "shards/measurements"],
        "shards/regions": sorted(
            [
                "balanced_images",
                *(f"shards/{n}" for n in ("captions", "curated_images", "measurements")),
            ]
        ),
    }
    assert {name: lineage.pop(name) for name in per_shard} == per_shard
    assert lineage == {
        "raw_images": [],
        "curated_images": ["raw_images"],
        "balanced_images": ["curated_images", "shards/curated_images"],
        "measurements": ["balanced_images", "curated_images"],
        "captions": ["balanced_images", "curated_images", "measurements"],
        "symbols": ["curated_images", "shards/curated_images"],
        "regions": ["balanced_images", "captions", "curated_images", "measurements"],
        "training_pairs": sorted(
            ["balanced_images", "symbols"]
            + [
                f"{prefix}{n}"
                for prefix in ("", "shards/")
                for n in ("captions", "curated_images", "regions")
            ]
        ),
        **models,
        **evaluations,
        "comparison_report": sorted(f"{recipe}_evaluation" for recipe in RECIPES),
        "embeddings": sorted(["curated_images", "shards/curated_images", *models]),
        "labels": ["embeddings"],
    }
    for name in lineage:
        [materialization] = nodes[name]["assetMaterializations"]
        assert materialization == {"runId": webserver.run_id, "partition": "embedded"}
