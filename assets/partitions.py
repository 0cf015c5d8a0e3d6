"""The one partition dimension that runs through the whole asset graph: the dataset."""

import dagster as dg

DEFAULT_DATASET = "embedded"

DATASETS = dg.StaticPartitionsDefinition(
    [
        "embedded",
        "galaxy10_decals",
        "galaxy_mnist",
        "spacenet",
        "legacy_survey",
        "sdss",
        "local",
    ]
)
