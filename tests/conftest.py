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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``: ``-n 2 --dist loadgroup``), tests that share one of our
    session fixtures run in one worker, which builds it once, and a file's tests stay together
    (their module fixtures too)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        shared = [
            fixture.baseid
            for fixtures in item._fixtureinfo.name2fixturedefs.values()
            for fixture in fixtures
            if fixture.scope == "session" and fixture.baseid.startswith("tests")
        ]
        group = min(shared, key=len) if shared else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


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
