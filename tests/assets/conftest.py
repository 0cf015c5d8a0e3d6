"""The small graph, materialized once for every asset test module that needs it."""

import pytest

from tests.dagster_env import repo_instance
from tests.fixtures.small_graph import materialize_small_graph


@pytest.fixture(scope="package")
def trained(tmp_path_factory):
    """Every asset of the small embedded graph, trained with the tiny model."""
    root = tmp_path_factory.mktemp("graph")
    with repo_instance(root / "dagster") as instance:
        result = materialize_small_graph(instance, root / "lake")
        assert result.success
        yield instance, root / "lake", result
