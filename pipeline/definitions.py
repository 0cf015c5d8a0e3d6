"""The code location's ``Definitions``; resources are picked by ``COSMOALIGN_ENV``.

``local`` (default) keeps the lake in ``.cosmoalign/`` of the repo (or ``$COSMOALIGN_HOME``);
``prod`` requires ``COSMOALIGN_HOME`` (e.g. ``s3://bucket/cosmoalign``) so nothing lands on local
disk by accident.
"""

import os

import dagster as dg

from assets.captions import captions, regions, symbols
from assets.evaluation import comparison, evaluations
from assets.ingest import balanced, curated, raw
from assets.training import models, pairs
from pipeline.jobs import finetune, ingest, recaption
from pipeline.schedules import weekly_recaption
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

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(
        [
            raw,
            curated,
            balanced,
            captions,
            regions,
            symbols,
            pairs,
            models,
            evaluations,
            comparison,
        ]
    ),
    jobs=[finetune, ingest, recaption],
    schedules=[weekly_recaption],
    resources=RESOURCES_BY_ENV[os.environ.get("COSMOALIGN_ENV", "local")],
)
