"""Schedules: weekly recaptioning of every dataset that has captions."""

import dagster as dg

from pipeline.jobs import recaption


@dg.schedule(
    job=recaption,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays 03:00 UTC: recaption stale rows of every dataset with captions.",
)
def weekly_recaption(context: dg.ScheduleEvaluationContext):
    """One run per captioned dataset; nothing to do until some dataset has captions."""
    datasets = sorted(context.instance.get_materialized_partitions(dg.AssetKey("captions")))
    if not datasets:
        return dg.SkipReason("no dataset has captions yet")
    week = context.scheduled_execution_time.strftime("%G-W%V")
    return [
        dg.RunRequest(run_key=f"recaption-{dataset}-{week}", partition_key=dataset)
        for dataset in datasets
    ]
