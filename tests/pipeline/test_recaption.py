"""The recaption job and its weekly schedule against a real instance."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from assets.captions import captions, measurements, regions, symbols
from assets.ingest import balanced, curated, raw
from pipeline.definitions import defs
from pipeline.jobs import PER_DATASET
from pipeline.schedules import weekly_recaption
from resources import AccelerateLauncher, LakeResource, SurveySources
from resources.sources import EmbeddedConfig
from tests.dagster_env import repo_instance

MONDAY = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def _materialize_all(instance, lake_root: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        dg.load_assets_from_modules(
            [raw, curated, balanced, measurements, captions, regions, symbols]
        ),
        selection=PER_DATASET,
        partition_key="embedded",
        instance=instance,
        resources={
            "lake": LakeResource(root=lake_root),
            "launcher": AccelerateLauncher(),
            "sources": SurveySources(
                embedded=EmbeddedConfig(
                    total=0, min_per_class=10, size=48, include_hst=False, max_real=0
                )
            ),
        },
    )


def _latest(instance, asset: str):
    return instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization


@pytest.mark.slow
def _evaluate(schedule, instance: dg.DagsterInstance):
    """The schedule's requests on Monday. The context is closed after: the instance it opens
    from the ref would otherwise stay Dagster's current one after it is gone."""
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=MONDAY) as context:
        return schedule(context)


def test_schedule_requests_one_run_per_captioned_dataset_and_recaption_reuses_current_rows(
    tmp_path, monkeypatch
):
    lake_root = str(tmp_path / "lake")
    monkeypatch.setenv("COSMOALIGN_HOME", lake_root)  # the job's default lake resource
    with repo_instance(tmp_path / "dagster") as instance:
        assert isinstance(_evaluate(weekly_recaption, instance), dg.SkipReason)

        first = _materialize_all(instance, lake_root)
        assert first.success
        captioned = _latest(instance, "captions")
        assert (
            captioned.metadata["captioned"].value == captioned.metadata["dagster/row_count"].value
        )
        symbol_rows = _latest(instance, "symbols").metadata["dagster/row_count"].value
        assert symbol_rows == 10

        requests = _evaluate(weekly_recaption, instance)
        assert [(r.partition_key, r.run_key, r.job_name) for r in requests] == [
            ("embedded", "recaption-embedded-2026-W48", None)
        ]

        run = defs.resolve_job_def("recaption").execute_in_process(
            instance=instance, partition_key="embedded"
        )
        assert run.success
        again = _latest(instance, "captions")
        assert _latest(instance, "measurements").metadata["measured"].value == 0
        assert again.metadata["captioned"].value == 0
        assert again.metadata["reused"].value == captioned.metadata["dagster/row_count"].value
        assert again.tags["dagster/data_version"] == captioned.tags["dagster/data_version"]
        # nothing changed, so the merge-insert committed nothing: the same Lance version
        assert again.metadata["lance_version"] == captioned.metadata["lance_version"]
        checks = {c.check_name: c.passed for c in first.get_asset_check_evaluations()}
        assert checks["no_empty_caption"] and checks["duplicate_caption_rate"]


@pytest.mark.slow
def test_regions_cover_every_captioned_image_with_boxes_inside_it(tmp_path):
    import pyarrow.compute as pc

    from cosmoalign.lake import Lake

    lake_root = str(tmp_path / "lake")
    with repo_instance(tmp_path / "dagster") as instance:
        assert _materialize_all(instance, lake_root).success
    lake = Lake(lake_root)
    regions_table = lake.read("regions", "embedded").to_pylist()
    caption_ids = lake.read("captions", "embedded").column("object_id").to_pylist()
    assert [row["object_id"] for row in regions_table] == caption_ids
    for row in regions_table:
        assert not row["texts"] or row["texts"][0] == "the whole galaxy"
        assert len(row["boxes"]) == len(row["texts"]) == len(row["scores"])
        for x0, y0, x1, y1 in row["boxes"]:
            assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
    assert pc.sum(
        pc.list_value_length(lake.read("regions", "embedded").column("texts"))
    ).as_py() > len(caption_ids)
