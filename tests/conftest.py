"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from tests.dagster_env import repo_instance
from tests.fixtures.loopback import LoopbackServer
from tests.fixtures.small_graph import materialize_small_graph

# No test may reach the Hugging Face hub: models are built from configs and loaded from disk.
os.environ["HF_HUB_OFFLINE"] = "1"
# Evaluations score no real benchmark unless a test points COSMOALIGN_REAL_EVAL at a folder: the
# 600 real images would add half a minute to every evaluation the graph tests run.
os.environ.setdefault("COSMOALIGN_REAL_EVAL", "")


# Files whose tests share an expensive session fixture: each group runs in one xdist worker,
# which builds the fixture once (``small_graph``: the materialized graph; ``tests/search``: its
# galaxies and their embeddings). Any other file is a unit of its own (its module fixtures too).
SHARED_SESSION_FIXTURES = (
    ("tests/assets/", "small_graph"),
    ("tests/pipeline/test_webserver", "small_graph"),
    ("tests/search/", "search"),
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests (end-to-end runs of the job or of subprocesses) first, in a stable order: the
    workers start on the long ones and finish on short ones instead of one waiting for the other."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``make test`` runs two pytest-xdist workers (``-n 2``): tests are handed out by file, and
    by :data:`SHARED_SESSION_FIXTURES` group, in collection order. (xdist's own ``loadgroup``
    marks do not reach its scheduler under pytest 9.2, which no longer reads the node id it
    rewrites.)"""
    from xdist.scheduler import LoadScopeScheduling

    # Hand units out in collection order (slow tests first, see above), not by test count, which
    # put the single-test end-to-end files last.
    config.option.loadscopereorder = False

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            groups = (group for prefix, group in SHARED_SESSION_FIXTURES if path.startswith(prefix))
            return next(groups, path)

    return SharedFixtureScheduling(config, log)


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A running loopback HTTP server with no routes; tests add them."""
    with LoopbackServer() as server:
        yield server


@dataclass(frozen=True)
class SmallGraph:
    """The small embedded graph, materialized once per session: its instance state and lake,
    the run's result, and an untouched copy of both (tests that recaption change the first)."""

    state: Path
    lake: Path
    result: dg.ExecuteInProcessResult
    pristine_state: Path
    pristine_lake: Path


@pytest.fixture(scope="session")
def small_graph(tmp_path_factory) -> SmallGraph:
    """Every asset of the small embedded graph, trained with the tiny model (once a session:
    the asset tests and the web UI tests share it)."""
    root = tmp_path_factory.mktemp("graph")
    with repo_instance(root / "dagster") as instance:
        result = materialize_small_graph(instance, root / "lake")
        assert result.success
    pristine = tmp_path_factory.mktemp("graph-pristine")
    shutil.copytree(root / "dagster", pristine / "dagster")
    shutil.copytree(root / "lake", pristine / "lake")
    state, lake = root / "dagster", root / "lake"
    return SmallGraph(state, lake, result, pristine / "dagster", pristine / "lake")
