"""A recipe's evaluation in and out of domain: results, merged HTML, markdown and Parquet."""

import shutil

import pytest

from cosmoalign.evaluate.evaluation_report import evaluate_recipe
from cosmoalign.models import ModelSpec, build_model, export_open_clip
from cosmoalign.report.key_numbers import KEY_COLUMNS
from tests.fixtures.pairs_lake import build_pairs_lake
from tests.shared_data import GZ_SPIRALS, require


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("eval")


@pytest.fixture(scope="module")
def evaluation(root):
    build_pairs_lake(str(root / "lake"), "p", per_class=6)
    folder = root / "gz"
    for name in ("spirals", "non_spirals"):
        (folder / name).mkdir(parents=True)
        for path in sorted((require(GZ_SPIRALS) / "validation" / name).glob("*.jpg"))[:6]:
            shutil.copy(path, folder / name / path.name)
    export = export_open_clip(build_model(ModelSpec("tiny"), seed=1), root / "tuned")
    return evaluate_recipe(
        lake_root=str(root / "lake"),
        partition="p",
        base={"arch": "tiny", "pretrained": None, "image_size": None, "seed": 0},
        fine_tuned=export,
        out_of_domain=[str(folder)],
        cache_dir=root / "cache",
        title="tiny on p",
    )


def test_in_and_out_of_domain_results(evaluation):
    [ood] = evaluation.results["out_of_domain"].values()
    assert ood["class_names"] == ["non_spirals", "spirals"]
    assert ood["models"]["base"]["retrieval"] is None  # a folder has no captions
    in_domain = evaluation.results["in_domain"]["models"]
    assert evaluation.headline["top1_gain"] == pytest.approx(
        in_domain["fine-tuned"]["zero_shot"]["top1"] - in_domain["base"]["zero_shot"]["top1"]
    )


def test_one_page_one_table_one_markdown(evaluation):
    assert evaluation.html.count("<html") == 1
    assert "tiny on p: p (test)" in evaluation.html and "tiny on p: gz" in evaluation.html
    assert evaluation.markdown.count("| model |") == 2
    table = evaluation.key_numbers.to_pylist()
    assert len(table) == 2 * 2 * len(KEY_COLUMNS)
    ood_retrieval = [
        row for row in table if row["eval_set"] != "in_domain" and "retrieval" in row["metric"]
    ]
    assert ood_retrieval and all(row["value"] is None for row in ood_retrieval)


def test_cache_keeps_the_folders_rendered_images_and_each_sets_map(evaluation, root):
    cache = root / "cache"
    assert len(list(cache.glob("*.render.npz"))) == 1  # the gz folder; lake rows are framed
    assert len(list(cache.glob("*.map.npz"))) == 2  # in domain and gz
