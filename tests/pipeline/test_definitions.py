import dagster as dg

from assets.partitions import DATASET_SHARDS, DATASETS
from pipeline.definitions import defs

PER_ROW = {"raw_images", "curated_images", "measurements", "captions", "regions"}


def test_jobs_default_to_the_embedded_partition():
    for name in ("finetune", "ingest", "recaption"):
        job = defs.resolve_job_def(name)
        assert job.tags["dagster/partition"] == "embedded"
        assert job.partitions_def == DATASETS


def test_assets_are_per_dataset_and_the_per_row_stages_also_per_shard():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw_images", "curated_images", "balanced_images"} <= keys
    sharded = {key for key in keys if key.startswith("shards/")}
    assert sharded == {f"shards/{name}" for name in PER_ROW}
    for key in graph.get_all_asset_keys():
        expected = DATASET_SHARDS if key.to_user_string() in sharded else DATASETS
        assert graph.get(key).partitions_def == expected
    finetune_keys = defs.resolve_job_def("finetune").asset_layer.executable_asset_keys
    assert {key.to_user_string() for key in finetune_keys} == keys - sharded


def test_each_job_of_a_sharded_dataset_covers_its_step():
    def keys(job: str) -> set[str]:
        job_keys = defs.resolve_job_def(job).asset_layer.executable_asset_keys
        return {key.to_user_string() for key in job_keys}

    assert keys("ingest_shards") == {"shards/raw_images", "shards/curated_images"}
    assert keys("balance") == {"balanced_images"}
    assert keys("caption_shards") == {"shards/measurements", "shards/captions", "shards/regions"}
    assert keys("train") == keys("finetune") - PER_ROW - {"balanced_images"}
    assert defs.resolve_job_def("caption_shards").partitions_def == DATASET_SHARDS


def test_lineage_runs_raw_to_curated_to_balanced():
    graph = defs.resolve_asset_graph()
    parents = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert parents["curated_images"] == {"raw_images"}
    assert parents["shards/curated_images"] == {"shards/raw_images"}
    assert parents["balanced_images"] == {"curated_images", "shards/curated_images"}
    assert parents["measurements"] == {"balanced_images", "curated_images"}
    assert parents["shards/measurements"] == {"balanced_images", "shards/curated_images"}
    assert parents["captions"] == {"balanced_images", "curated_images", "measurements"}
    assert parents["symbols"] == {"curated_images", "shards/curated_images"}
    assert parents["regions"] == {"balanced_images", "curated_images", "captions", "measurements"}
    assert parents["training_pairs"] == {
        "balanced_images",
        "symbols",
        *(
            f"{prefix}{name}"
            for prefix in ("", "shards/")
            for name in PER_ROW - {"raw_images", "measurements"}
        ),
    }
    for recipe in ("cosmoclip", "galaxalign", "grain"):
        assert parents[f"{recipe}_model"] == {"training_pairs"}


def test_recaption_job_and_its_weekly_schedule():
    job = defs.resolve_job_def("recaption")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert keys == {"measurements", "captions", "regions", "training_pairs"}
    schedule = defs.resolve_schedule_def("weekly_recaption")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 3 * * 1", "recaption")
    per_shard = defs.resolve_schedule_def("weekly_recaption_shards")
    assert (per_shard.cron_schedule, per_shard.job_name) == ("0 3 * * 1", "caption_shards")


def test_asset_checks_are_declared():
    check_keys = {
        (key.asset_key.to_user_string(), key.name)
        for key in defs.resolve_asset_graph().asset_check_keys
    }
    assert check_keys == {
        ("curated_images", "quarantine_rate"),
        ("balanced_images", "class_balance"),
        ("balanced_images", "no_eval_leakage"),
        ("captions", "no_empty_caption"),
        ("captions", "duplicate_caption_rate"),
        ("shards/curated_images", "quarantine_rate"),
        ("shards/captions", "no_empty_caption"),
        ("shards/captions", "duplicate_caption_rate"),
        ("training_pairs", "every_image_captioned"),
    }
    assert isinstance(defs, dg.Definitions)
