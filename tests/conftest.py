"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.loopback import LoopbackServer


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A running loopback HTTP server with no routes; tests add them."""
    with LoopbackServer() as server:
        yield server
