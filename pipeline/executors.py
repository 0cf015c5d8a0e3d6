"""Executors: what runs each step of a job, by ``COSMOALIGN_ENV``.

Locally, jobs with models (``finetune``, ``train``) start the steps of a run from a fork server
that has imported the code location, torch and open_clip once (about 14 s of imports on 2
cores), instead of a fresh interpreter per step. Lance is never preloaded: it is not fork-safe
once its runtime has started. Data jobs (ingest, balancing, captions, shards) are chains of steps
that touch no model: they run in the run's own process, which has imported the code location
already; a fork server cost each of their runs 6.5 s (a quarter of a 2,500-row shard's ingest).
On a cluster (``k8s``) every step is a pod of its own and the code location's
``k8s_job_executor`` applies to every job. Locally, steps of the ``gpu`` pool also take their
turns within a run by tag (:mod:`resources.accelerator_pool`).
"""

from __future__ import annotations

import os

import dagster as dg

from resources.accelerator_pool import ONE_AT_A_TIME

# Dagster's sqlite storage too: each step opens the instance, and importing it (sqlalchemy,
# alembic) cost every step process 0.8 s.
CODE_LOCATION_MODULES = [
    "pipeline.definitions",
    "dagster._core.storage.sqlite_storage",
    "pyarrow.parquet",
    "pandas",
    "PIL.Image",
    "astropy.io.fits",
]
MODEL_MODULES = ["torch", "torchvision", "open_clip"]


def on_cluster() -> bool:
    """Whether this code location runs on Kubernetes (``COSMOALIGN_ENV=k8s``)."""
    return os.environ.get("COSMOALIGN_ENV", "local") == "k8s"


MODEL_STEPS = dg.multiprocess_executor.configured(
    {
        "start_method": {
            "forkserver": {"preload_modules": [*CODE_LOCATION_MODULES, *MODEL_MODULES]}
        },
        "tag_concurrency_limits": ONE_AT_A_TIME,
    },
    name="multiprocess",
)
DATA_STEPS = dg.in_process_executor


def data_job_executor() -> dg.ExecutorDefinition | None:
    """The executor of a job that trains and loads no model: :data:`DATA_STEPS` locally, None
    on a cluster (the code location's executor)."""
    return None if on_cluster() else DATA_STEPS
