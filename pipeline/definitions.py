"""The code location's ``Definitions``; resources are picked by ``COSMOALIGN_ENV``.

``local`` (default) keeps the lake in ``.cosmoalign/`` of the repo (or ``$COSMOALIGN_HOME``);
``prod`` requires ``COSMOALIGN_HOME`` (e.g. ``s3://bucket/cosmoalign``) so nothing lands on local
disk by accident; an object store's endpoint, region and credentials come from the ``AWS_*``
environment variables (never from code or run config: see docs/deploy.md). ``k8s`` is ``prod``
on a cluster (the ``k8s`` extra): every step runs as a pod of its own (``k8s_job_executor``) and
training runs in GPU pods (see docs/deploy.md).
"""

import os

import dagster as dg

from assets.captions import captions, measurements, regions, symbols
from assets.evaluation import comparison, evaluations
from assets.ingest import balanced, curated, raw
from assets.search import embedding
from assets.training import models, pairs
from pipeline.executors import MODEL_STEPS, on_cluster
from pipeline.jobs import balance, caption_shards, finetune, ingest, ingest_shards, recaption, train
from pipeline.schedules import weekly_recaption, weekly_recaption_shards
from pipeline.shard_plan import plan_shards
from resources import AccelerateLauncher, LakeResource, SurveySources

RESOURCES_LOCAL = {
    "lake": LakeResource(),
    "sources": SurveySources(),
    "launcher": AccelerateLauncher(),
}
RESOURCES_PROD = {
    "lake": LakeResource(root=dg.EnvVar("COSMOALIGN_HOME")),
    "sources": SurveySources(),
    "launcher": AccelerateLauncher(
        num_processes=dg.EnvVar.int("COSMOALIGN_GPUS"), mixed_precision="bf16"
    ),
}
RESOURCES_BY_ENV = {"local": RESOURCES_LOCAL, "prod": RESOURCES_PROD}
ENV = os.environ.get("COSMOALIGN_ENV", "local")


def _cluster() -> tuple[dict, dg.ExecutorDefinition]:
    """The ``k8s`` mode: ``prod``'s resources with training in pods, each step in a pod."""
    from dagster_k8s import k8s_job_executor

    from resources.k8s_launcher import launcher_from_env

    return {**RESOURCES_PROD, "launcher": launcher_from_env()}, k8s_job_executor


RESOURCES, EXECUTOR = _cluster() if on_cluster() else (RESOURCES_BY_ENV[ENV], MODEL_STEPS)

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(
        [
            raw,
            curated,
            balanced,
            measurements,
            captions,
            regions,
            symbols,
            pairs,
            models,
            evaluations,
            comparison,
            embedding,
        ]
    ),
    jobs=[
        finetune,
        ingest,
        recaption,
        plan_shards,
        ingest_shards,
        balance,
        caption_shards,
        train,
    ],
    schedules=[weekly_recaption, weekly_recaption_shards],
    resources=RESOURCES,
    executor=EXECUTOR,
)
