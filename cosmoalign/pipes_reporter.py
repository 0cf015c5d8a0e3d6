"""Where out-of-process work (training, GPU captioning) reports: Dagster through pipes when an
asset launched it, else the log.

``dagster_pipes`` is the tiny dependency-free half of Dagster's pipes protocol; the core uses it
only when the launching process asked for it (and only on the main process), so a run on a bare
GPU box needs neither Dagster nor pipes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

log = logging.getLogger("cosmoalign")


class Reporter(Protocol):
    """Progress and the final result of one out-of-process run."""

    def info(self, message: str) -> None:
        """A line for the run's log."""

    def result(self, metadata: dict, data_version: str) -> None:
        """The materialization: metadata of the trained model and its data version."""


class LogReporter:
    """Reports to Python logging (standalone runs and non-main processes)."""

    def info(self, message: str) -> None:
        log.info(message)

    def result(self, metadata: dict, data_version: str) -> None:
        log.info("result %s (version %s)", json.dumps(metadata, default=str), data_version)


class PipesReporter:
    """Reports to the launching Dagster run through an open pipes context."""

    def __init__(self, pipes) -> None:
        self.pipes = pipes

    def info(self, message: str) -> None:
        self.pipes.log.info(message)

    def result(self, metadata: dict, data_version: str) -> None:
        self.pipes.report_asset_materialization(metadata=metadata, data_version=data_version)


@contextmanager
def open_reporter(is_main_process: bool) -> Iterator[Reporter]:
    """Pipes on the main process of a pipes-launched run, logging everywhere else."""
    if is_main_process and _launched_through_pipes():
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            yield PipesReporter(pipes)
    else:
        yield LogReporter()


def _launched_through_pipes() -> bool:
    try:
        from dagster_pipes import PipesEnvVarParamsLoader
    except ImportError:
        return False
    return PipesEnvVarParamsLoader().is_dagster_pipes_process()
