"""The real benchmark: found by COSMOALIGN_REAL_EVAL or the shared default, scored by a recipe
evaluation with its own prompts beside a user's out-of-domain set, and compared across recipes."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

import cosmoalign.evaluate.data as data
import cosmoalign.evaluate.evaluation_report as evaluation_report
from cosmoalign.evaluate.data import class_prompts
from cosmoalign.evaluate.evaluation_report import (
    RecipeEvaluation,
    compare_recipes,
    evaluate_recipe,
)
from cosmoalign.evaluate.real_sets import (
    DEFAULT_REAL_EVAL,
    GZ_SPIRALS_PROMPTS,
    REAL_EVAL_ENV,
    REAL_SET_NAME,
    four_class_rows,
    has_four_class_files,
    real_eval_folder,
    real_set,
)
from cosmoalign.models import ModelSpec, build_model, export_open_clip
from cosmoalign.report.key_numbers import KEY_COLUMNS, format_value
from tests.fixtures.pairs_lake import build_pairs_lake
from tests.shared_data import GZ_SPIRALS, SHARED_DATA, require

REPO_ROOT = Path(__file__).resolve().parents[2]
PER_CLASS = 4
BENCHMARK = [
    column for column in KEY_COLUMNS if column.heading in ("top-1", "balanced acc", "probe acc")
]


def copy_real_images(folder: Path, classes: tuple[str, ...] = ("spirals", "non_spirals")) -> Path:
    """A few real validation JPEGs of each class, copied into ``folder/<class>/``."""
    for name in classes:
        (folder / name).mkdir(parents=True)
        source = require(GZ_SPIRALS) / "validation" / name
        for path in sorted(source.glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(path, folder / name / path.name)
    return folder


def resolve(monkeypatch: pytest.MonkeyPatch, value: str | None) -> tuple[Path | None, list[str]]:
    if value is None:
        monkeypatch.delenv(REAL_EVAL_ENV, raising=False)
    else:
        monkeypatch.setenv(REAL_EVAL_ENV, value)
    logged: list[str] = []
    return real_eval_folder(logged.append), logged


def test_empty_variable_turns_the_benchmark_off(monkeypatch, tmp_path):
    folder, logged = resolve(monkeypatch, "")
    assert folder is None
    assert logged == [f"real benchmark skipped: {REAL_EVAL_ENV} is empty"]


def test_missing_folder_is_skipped_with_a_log_line(monkeypatch, tmp_path):
    folder, logged = resolve(monkeypatch, str(tmp_path / "absent"))
    assert folder is None
    [line] = logged
    assert line.startswith("real benchmark skipped:") and str(tmp_path / "absent") in line


def test_existing_folder_is_used(monkeypatch, tmp_path):
    folder, logged = resolve(monkeypatch, str(tmp_path))
    assert folder == tmp_path
    assert logged == [
        f"real benchmark: scoring {REAL_SET_NAME} (class sub-folders) from {tmp_path}"
    ]


def test_default_is_the_shared_data_folder_when_present(monkeypatch):
    expected = REPO_ROOT.parent / "shared" / "data"
    assert expected == DEFAULT_REAL_EVAL
    folder, logged = resolve(monkeypatch, None)
    assert folder == (expected if expected.is_dir() else None)
    if folder is not None:
        assert logged == [f"real benchmark: scoring {REAL_SET_NAME} (four classes) from {expected}"]


def test_four_class_labels_name_the_four_plain_word_classes_and_their_source():
    rows = four_class_rows()
    by_label: dict[str, set[str]] = {}
    for row in rows:
        by_label.setdefault(row["label"], set()).add(row["source"])
    assert sorted(by_label) == ["edge-on disk", "elliptical", "merging", "spiral"]
    assert by_label["edge-on disk"] == by_label["merging"] == {"by eye"}
    assert len({row["path"] for row in rows}) == len(rows)


def test_four_class_set_is_used_only_when_all_its_files_are_there(tmp_path):
    shared = require(SHARED_DATA / "sdss-unlabelled").parent
    assert has_four_class_files(shared)
    partial = tmp_path / "partial"
    for row in four_class_rows()[:-1]:
        (partial / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        (partial / row["path"]).symlink_to(shared / row["path"])
    assert not has_four_class_files(partial)


def test_prompts_are_those_of_the_docs_mapping():
    mapping = json.loads((REPO_ROOT / "docs" / "prompts" / "gz_spirals.json").read_text())
    assert mapping == GZ_SPIRALS_PROMPTS


def test_real_set_is_named_as_real_data_with_its_own_prompts(tmp_path):
    evalset = real_set(copy_real_images(tmp_path / "real"))
    assert evalset.name == REAL_SET_NAME
    assert evalset.class_names == ["non_spirals", "spirals"]
    assert len(evalset.images) == 2 * PER_CLASS
    assert evalset.prompts == class_prompts(evalset.class_names, GZ_SPIRALS_PROMPTS)
    assert evalset.prompts[0][0] == "an image of a smooth elliptical galaxy"


def test_real_set_is_rendered_once_per_cache(tmp_path, monkeypatch):
    folder = copy_real_images(tmp_path / "real")
    first = real_set(folder, tmp_path / "cache")
    monkeypatch.setattr(data, "display_png", None)  # a render now would fail
    again = real_set(folder, tmp_path / "cache")
    assert again.images == first.images and again.name == REAL_SET_NAME


def test_real_set_maps_only_the_classes_its_folder_has(tmp_path):
    evalset = real_set(copy_real_images(tmp_path / "real", classes=("spirals",)))
    assert evalset.prompts == class_prompts(["spirals"], {"spirals": "spiral"})


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[RecipeEvaluation, dict, str]:
    """A tiny recipe evaluated with the real benchmark (found through the environment) and a
    user's out-of-domain folder of the same images; also each set's prompts as compared."""
    root = tmp_path_factory.mktemp("real")
    build_pairs_lake(str(root / "lake"), "p", per_class=6)
    real = copy_real_images(root / "gz")
    export = export_open_clip(build_model(ModelSpec("tiny"), seed=1), root / "tuned")
    prompts = {}
    compare = evaluation_report.compare

    def spy(models, evalset, **kwargs):
        prompts[evalset.name] = evalset.prompts
        return compare(models, evalset, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(REAL_EVAL_ENV, str(real))
        patch.setattr(evaluation_report, "compare", spy)
        evaluation = evaluate_recipe(
            lake_root=str(root / "lake"),
            partition="p",
            base={"arch": "tiny", "pretrained": None, "image_size": None, "seed": 0},
            fine_tuned=export,
            out_of_domain=[str(real)],
            real_eval=real_eval_folder(),
            cache_dir=root / "cache",
            title="tiny on p",
        )
    return evaluation, prompts, str(real)


def test_real_set_is_scored_under_its_name_beside_the_users_set(scored):
    evaluation, _, user_set = scored
    assert list(evaluation.results["out_of_domain"]) == [user_set, REAL_SET_NAME]
    measured = evaluation.results["out_of_domain"][REAL_SET_NAME]
    assert measured["dataset"] == REAL_SET_NAME
    assert measured["class_names"] == ["non_spirals", "spirals"]
    for model in ("base", "fine-tuned"):
        numbers = measured["models"][model]
        assert numbers["zero_shot"]["balanced_accuracy"] is not None
        assert numbers["linear_probe"]["samples"] == 2 * PER_CLASS
    base, tuned = (measured["models"][m]["zero_shot"]["top1"] for m in ("base", "fine-tuned"))
    assert evaluation.headline["real_top1_base"] == base
    assert evaluation.headline["real_top1_gain"] == pytest.approx(tuned - base)
    real_rows = [r for r in evaluation.key_numbers.to_pylist() if r["eval_set"] == REAL_SET_NAME]
    assert len(real_rows) == 2 * len(KEY_COLUMNS)


def test_real_set_has_its_prompts_and_the_users_set_keeps_the_defaults(scored):
    _, prompts, _ = scored
    assert prompts[REAL_SET_NAME][0][0] == "an image of a smooth elliptical galaxy"
    assert prompts["gz"][0][0] == "an image of a non spirals galaxy"


def test_report_and_markdown_name_the_real_set(scored):
    evaluation, _, _ = scored
    assert f"<h2>tiny on p: {REAL_SET_NAME}</h2>" in evaluation.html
    assert evaluation.html.count("<html") == 1
    assert f"**{REAL_SET_NAME}**" in evaluation.markdown
    assert evaluation.markdown.count("| model |") == 3


def benchmark_rows(markdown: str, name: str) -> dict[str, list[str]]:
    """The rows of the markdown table under ``**name**``, as model -> its benchmark cells."""
    section = markdown.split(f"**{name}**\n\n", 1)[1].split("\n\n", 1)[0]
    header, _, *rows = [line.strip("|").split("|") for line in section.strip().splitlines()]
    columns = [cell.strip() for cell in header]
    picks = [columns.index(column.heading) for column in BENCHMARK]
    return {row[0].strip(): [row[i].strip() for i in picks] for row in rows}


def test_comparison_shows_the_real_set_for_base_and_each_recipe(scored):
    evaluation, _, _ = scored
    stored = json.loads(json.dumps(evaluation.results, allow_nan=False))
    other = copy.deepcopy(stored)
    other["out_of_domain"][REAL_SET_NAME]["models"]["fine-tuned"]["zero_shot"]["top1"] = 0.125
    evaluations = {
        "cosmoclip": stored,
        "galaxalign": other,
        "grain": {"in_domain": stored["in_domain"], "out_of_domain": {}},  # folder was missing
    }
    comparison = compare_recipes(evaluations, title="Recipes compared")

    assert list(comparison.results["models"]) == ["base", "cosmoclip", "galaxalign", "grain"]
    real = comparison.results["out_of_domain"][REAL_SET_NAME]
    assert list(real["models"]) == ["base", "cosmoclip", "galaxalign"]
    expected = {
        "base": stored["out_of_domain"][REAL_SET_NAME]["models"]["base"],
        "cosmoclip": stored["out_of_domain"][REAL_SET_NAME]["models"]["fine-tuned"],
        "galaxalign": other["out_of_domain"][REAL_SET_NAME]["models"]["fine-tuned"],
    }
    rows = benchmark_rows(comparison.markdown, REAL_SET_NAME)
    assert rows == {
        model: [format_value(column.value(numbers)) for column in BENCHMARK]
        for model, numbers in expected.items()
    }
    assert rows["galaxalign"][0] == "0.125"
    assert f"<h2>Recipes compared: {REAL_SET_NAME}</h2>" in comparison.html
    assert "data-model='galaxalign'" in comparison.html.split(REAL_SET_NAME)[-1]
