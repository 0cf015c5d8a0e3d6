"""Steps of the ``gpu`` pool take turns within a local run: the next one asks for the pool's slot
once the last has freed it, never waiting out Dagster's claim back-off (up to 15 s a try)."""

from __future__ import annotations

import time

import dagster as dg

from pipeline.executors import DATA_STEPS
from resources.accelerator_pool import IN_POOL, POOL, POOL_TAG
from tests.dagster_env import repo_instance

BLOCKED = f"blocked by limit for pool {POOL}"


@dg.asset(**IN_POOL)
def first_in_pool() -> None:
    time.sleep(1)


@dg.asset(**IN_POOL)
def second_in_pool() -> None:
    time.sleep(1)


def turns_by_tag() -> dg.JobDefinition:
    """Two independent pool steps under the data jobs' executor (made like the models')."""
    return dg.define_asset_job("turns_by_tag", executor_def=DATA_STEPS).resolve(
        asset_graph=dg.Definitions(assets=[first_in_pool, second_in_pool]).resolve_asset_graph()
    )


def test_every_step_in_the_pool_carries_its_tag():
    from pipeline.definitions import defs

    pooled = [node for node in defs.resolve_asset_graph().asset_nodes if POOL in node.pools]
    recipes = ("cosmoclip", "galaxalign", "grain")
    assert {node.key.to_user_string() for node in pooled} == {
        *(f"{recipe}_{stage}" for recipe in recipes for stage in ("model", "evaluation")),
        "embeddings",
    }
    for node in pooled:
        assert node.assets_def.op.tags.get(POOL_TAG) == POOL, node.key


def test_pool_steps_of_one_run_take_turns_without_blocking(tmp_path):
    """Without the executor's tag limit the second step is logged as blocked (checked by hand
    with Dagster's plain multiprocess executor) and then retries after a back-off."""
    with repo_instance(tmp_path / "dagster") as instance:
        result = dg.execute_job(dg.reconstructable(turns_by_tag), instance=instance)
        assert result.success
        messages = [
            record.event_log_entry.message
            for record in instance.get_records_for_run(result.run_id).records
        ]
    assert not any(BLOCKED in message for message in messages)
