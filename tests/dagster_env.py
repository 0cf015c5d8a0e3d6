"""A real Dagster instance from the repo's dagster.yaml, with state in a temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

REPO_ROOT = Path(__file__).resolve().parents[1]


def dagster_environ(state_dir: Path, lake_dir: Path) -> dict[str, str]:
    """Environment for Dagster commands: the repo's dagster.yaml, state and lake under tmp,
    training with the ``smoke`` profile."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(REPO_ROOT),
        "DAGSTER_MODULE_NAME": "pipeline.definitions",
        "COSMOALIGN_DAGSTER_DIR": str(state_dir),
        "COSMOALIGN_HOME": str(lake_dir),
        "COSMOALIGN_PROFILE": "smoke",  # tiny models: the graph end to end in seconds per model
        "COSMOALIGN_EMBEDDED_REAL": "200",  # a tenth of the shipped real sample: minutes, not ten
    }


@contextmanager
def repo_instance(state_dir: Path) -> Iterator[dg.DagsterInstance]:
    """The instance configured by the repo's dagster.yaml, storing under ``state_dir``."""
    previous = os.environ.get("COSMOALIGN_DAGSTER_DIR")
    os.environ["COSMOALIGN_DAGSTER_DIR"] = str(state_dir)
    try:
        with dg.DagsterInstance.from_config(str(REPO_ROOT)) as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop("COSMOALIGN_DAGSTER_DIR")
        else:
            os.environ["COSMOALIGN_DAGSTER_DIR"] = previous
