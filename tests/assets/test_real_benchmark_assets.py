"""The evaluation assets score the real benchmark named by COSMOALIGN_REAL_EVAL, the comparison
report shows it for base and each recipe, and an empty variable skips it with a log line."""

import json
import shutil

import pytest

from cosmoalign.evaluate.real_sets import REAL_EVAL_ENV, REAL_SET_NAME
from tests.fixtures.small_graph import RECIPES, materialize_small_graph
from tests.shared_data import GZ_SPIRALS, require

PER_CLASS = 3


def _user_logs(instance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


EVALUATED = [*(f"{recipe}_evaluation" for recipe in RECIPES), "comparison_report"]


@pytest.fixture(scope="module")
def graph(trained, tmp_path_factory):
    """The small graph's evaluations redone with a few real validation JPEGs as the real
    benchmark."""
    instance, lake, _ = trained
    real = tmp_path_factory.mktemp("real")
    for name in ("spirals", "non_spirals"):
        (real / name).mkdir(parents=True)
        source = require(GZ_SPIRALS) / "validation" / name
        for path in sorted(source.glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(path, real / name / path.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(REAL_EVAL_ENV, str(real))
        result = materialize_small_graph(instance, lake, EVALUATED)
        assert result.success
        yield instance, lake, result, patch


@pytest.mark.slow
def test_each_evaluation_scores_the_real_set(graph):
    instance, lake, result, _ = graph
    logs = _user_logs(instance, result.run_id)
    for recipe in RECIPES:
        folder = lake / "reports" / f"{recipe}_evaluation" / "embedded"
        measured = json.loads((folder / "results.json").read_text())["out_of_domain"]
        assert list(measured) == [REAL_SET_NAME]
        assert measured[REAL_SET_NAME]["models"]["fine-tuned"]["linear_probe"] is not None
        assert (
            f"<h2>{recipe} on embedded: {REAL_SET_NAME}</h2>"
            in (folder / "report.html").read_text()
        )
        [event] = result.asset_materializations_for_node(f"{recipe}_evaluation")
        top1 = measured[REAL_SET_NAME]["models"]["fine-tuned"]["zero_shot"]["top1"]
        assert event.metadata["real_top1_fine_tuned"].value == top1
    assert sum(line.startswith("real benchmark: scoring") for line in logs) == len(RECIPES)


@pytest.mark.slow
def test_comparison_report_shows_the_real_set_for_base_and_each_recipe(graph):
    _, lake, result, _ = graph
    folder = lake / "reports" / "comparison_report" / "embedded"
    comparison = json.loads((folder / "results.json").read_text())
    assert list(comparison["models"]) == ["base", *RECIPES]
    real = comparison["out_of_domain"][REAL_SET_NAME]
    assert list(real["models"]) == ["base", *RECIPES]
    cosmoclip = json.loads(
        (lake / "reports" / "cosmoclip_evaluation" / "embedded" / "results.json").read_text()
    )
    assert (
        real["models"]["cosmoclip"]
        == (cosmoclip["out_of_domain"][REAL_SET_NAME]["models"]["fine-tuned"])
    )
    [event] = result.asset_materializations_for_node("comparison_report")
    section = event.metadata["key_numbers"].value.split(f"**{REAL_SET_NAME}**", 1)[1]
    assert all(f"| {model} |" in section for model in ("base", *RECIPES))
    assert f"<h2>Recipes compared: {REAL_SET_NAME}</h2>" in (folder / "report.html").read_text()


@pytest.mark.slow
def test_an_empty_variable_skips_the_real_set_with_a_log_line(graph):
    """Runs last: it re-evaluates cosmoclip without the real set."""
    instance, lake, _, patch = graph
    patch.setenv(REAL_EVAL_ENV, "")
    result = materialize_small_graph(instance, lake, ["cosmoclip_evaluation"])
    assert result.success
    assert f"real benchmark skipped: {REAL_EVAL_ENV} is empty" in _user_logs(
        instance, result.run_id
    )
    results = lake / "reports" / "cosmoclip_evaluation" / "embedded" / "results.json"
    assert json.loads(results.read_text())["out_of_domain"] == {}
    [event] = result.asset_materializations_for_node("cosmoclip_evaluation")
    assert "real_top1_fine_tuned" not in event.metadata
