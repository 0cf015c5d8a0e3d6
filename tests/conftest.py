"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fixtures.loopback import LoopbackServer

# No test may reach the Hugging Face hub: models are built from configs and loaded from disk.
os.environ["HF_HUB_OFFLINE"] = "1"
# Evaluations score no real benchmark unless a test points COSMOALIGN_REAL_EVAL at a folder: the
# 600 real images would add half a minute to every evaluation the graph tests run.
os.environ.setdefault("COSMOALIGN_REAL_EVAL", "")


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A running loopback HTTP server with no routes; tests add them."""
    with LoopbackServer() as server:
        yield server
