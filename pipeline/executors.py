"""Executors: what runs each step of a job, by ``COSMOALIGN_ENV``.

Locally, the steps of one run start from a fork server that has imported the code location once,
instead of a fresh interpreter per step. What else it imports depends on the job: jobs with
models (``finetune``, ``train``) preload torch and open_clip (about 10 s of imports on 2 cores,
paid once instead of in each evaluation or search step); data jobs (ingest, balancing, captions)
never touch a model and skip them. Lance is never preloaded: it is not fork-safe once its
runtime has started. On a cluster (``k8s``) every step is a pod of its own and the code
location's ``k8s_job_executor`` applies to every job. Locally, steps of the ``gpu`` pool also
take their turns within a run by tag (:mod:`resources.accelerator_pool`).
"""

from __future__ import annotations

import os

import dagster as dg

from resources.accelerator_pool import ONE_AT_A_TIME

# Dagster's sqlite storage too: each step opens the instance, and importing it (sqlalchemy,
# alembic) cost every step process 0.8 s.
DATA_MODULES = [
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


def _forkserver_executor(name: str, preload: list[str]) -> dg.ExecutorDefinition:
    return dg.multiprocess_executor.configured(
        {
            "start_method": {"forkserver": {"preload_modules": preload}},
            "tag_concurrency_limits": ONE_AT_A_TIME,
        },
        name=name,
    )


MODEL_STEPS = _forkserver_executor("multiprocess", [*DATA_MODULES, *MODEL_MODULES])
DATA_STEPS = _forkserver_executor("multiprocess_data", DATA_MODULES)


def data_job_executor() -> dg.ExecutorDefinition | None:
    """The executor of a job that trains and loads no model: :data:`DATA_STEPS` locally, None
    on a cluster (the code location's executor)."""
    return None if on_cluster() else DATA_STEPS
