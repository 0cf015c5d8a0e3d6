"""One `dagster dev` over the small materialized graph, shared by the web UI tests."""

from collections.abc import Iterator

import pytest

from tests.pipeline.webserver_fixture import Webserver, served_graph


@pytest.fixture(scope="session")
def webserver(small_graph) -> Iterator[Webserver]:
    """The served graph (the untouched copy); started on first use, stopped at the end."""
    with served_graph(
        small_graph.pristine_state, small_graph.pristine_lake, small_graph.result.run_id
    ) as server:
        yield server
