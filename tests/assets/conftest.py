"""The small graph, materialized once for every asset test module that needs it."""

import pytest

from tests.dagster_env import repo_instance


@pytest.fixture(scope="package")
def trained(small_graph):
    """Every asset of the small embedded graph, trained with the tiny model: its instance,
    lake and run result."""
    with repo_instance(small_graph.state) as instance:
        yield instance, small_graph.lake, small_graph.result
