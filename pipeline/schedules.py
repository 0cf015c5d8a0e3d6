"""Schedules: weekly recaptioning of every dataset, and every shard, that has captions."""

import dagster as dg

from assets.partitions import SHARD_PREFIX
from pipeline.jobs import caption_shards, recaption

WEEKLY = {"cron_schedule": "0 3 * * 1", "execution_timezone": "UTC"}


def _captioned_partitions(
    context: dg.ScheduleEvaluationContext, key: dg.AssetKey, job_name: str
) -> list[dg.RunRequest] | dg.SkipReason:
    """One run per captioned partition of ``key``, keyed by the ISO week."""
    partitions = sorted(context.instance.get_materialized_partitions(key))
    if not partitions:
        return dg.SkipReason(f"nothing in {key.to_user_string()} is captioned yet")
    week = context.scheduled_execution_time.strftime("%G-W%V")
    return [
        dg.RunRequest(run_key=f"{job_name}-{partition}-{week}", partition_key=partition)
        for partition in partitions
    ]


@dg.schedule(
    job=recaption,
    **WEEKLY,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays 03:00 UTC: recaption stale rows of every dataset with captions.",
)
def weekly_recaption(context: dg.ScheduleEvaluationContext):
    """One run per captioned dataset; nothing to do until some dataset has captions."""
    return _captioned_partitions(context, dg.AssetKey("captions"), "recaption")


@dg.schedule(
    job=caption_shards,
    **WEEKLY,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays 03:00 UTC: recaption stale rows of every captioned shard.",
)
def weekly_recaption_shards(context: dg.ScheduleEvaluationContext):
    """One run per captioned (dataset, shard); a sharded dataset is recaptioned shard by shard."""
    return _captioned_partitions(context, dg.AssetKey([SHARD_PREFIX, "captions"]), "caption_shards")
