"""One `dagster dev` over a small materialized graph, shared by the web UI tests."""

from collections.abc import Iterator

import pytest

from tests.pipeline.webserver_fixture import Webserver, served_graph


@pytest.fixture(scope="session")
def webserver(tmp_path_factory) -> Iterator[Webserver]:
    """The served graph; started on first use, stopped at the end of the session."""
    with served_graph(tmp_path_factory.mktemp("served")) as server:
        yield server
