"""The model card beside an export: Hugging Face form, the evaluation table with the base, and
code that actually loads the model with plain open_clip and frames an image."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from cosmoalign.evaluate.data import EvalSet
from cosmoalign.evaluate.run import compare
from cosmoalign.models import ModelSpec, build_model, export_open_clip
from cosmoalign.models.model_card import (
    CARD_FILE,
    FACTS_FILE,
    ModelCard,
    record_evaluation,
    write_model_card,
)
from cosmoalign.report.key_numbers import format_value
from cosmoalign.train.config import TrainConfig

SECTIONS = [
    "Training data",
    "Recipe",
    "Settings",
    "Evaluation",
    "Limitations",
    "How to load with plain open_clip",
    "How to frame an image",
]


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    folder = export_open_clip(build_model(ModelSpec("tiny"), seed=3), tmp_path / "export")
    config = TrainConfig("galaxalign", "lake", "galaxy10_decals", str(tmp_path), lr=5e-4)
    write_model_card(folder, ModelCard.from_training(config, 1234, "ab" * 32))
    return folder


def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "no YAML front matter"
    return yaml.safe_load(match.group(1))


def test_card_has_hugging_face_front_matter_and_every_section(exported: Path) -> None:
    card = (exported / CARD_FILE).read_text()
    meta = front_matter(card)
    assert meta["library_name"] == "open_clip"
    assert meta["license"] == "apache-2.0"  # the offline default's towers
    assert meta["datasets"] == ["galaxy10_decals"]
    assert {"galaxalign", "astronomy", "clip"} <= set(meta["tags"])
    headings = re.findall(r"^## (.+)$", card, re.M)
    assert headings == SECTIONS
    assert "1234 image-caption pairs of the `galaxy10_decals` dataset" in card
    assert "| `lr` | `0.0005` |" in card and "`lake_root`" not in card
    assert "Not evaluated yet" in card
    assert "abab" * 16 in card


def test_evaluation_adds_the_table_against_the_base(exported: Path) -> None:
    rng = np.random.default_rng(0)
    images = [_png(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(12)]
    evalset = EvalSet(
        images=images,
        labels=np.arange(12) % 3,
        class_names=["elliptical", "spiral", "merging"],
        captions=None,
        object_ids=[str(i) for i in range(12)],
        name="held-out",
    )
    models = {
        "base": build_model(ModelSpec("tiny")),
        "fine-tuned": build_model(ModelSpec(f"local-dir:{exported}")),
    }
    results, _ = compare(models, evalset, batch_size=12)
    record_evaluation(exported, {"in_domain": results, "out_of_domain": {}})

    card = (exported / CARD_FILE).read_text()
    assert "Not evaluated yet" not in card and "**held-out**" in card
    for model in ("base", "fine-tuned"):
        top1 = format_value(results["models"][model]["zero_shot"]["top1"])
        assert re.search(rf"^\| {model} \| {re.escape(top1)} \|", card, re.M), model
    assert (exported / FACTS_FILE).is_file()
    assert record_evaluation(exported.parent, results) is None  # no card facts: left alone


def test_the_cards_code_loads_the_model_and_frames_an_image(
    exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = (exported / CARD_FILE).read_text()
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(blocks) == 2
    rng = np.random.default_rng(1)
    sky = rng.normal(20, 3, (96, 96, 3))
    y, x = np.mgrid[:96, :96]
    sky += 200 * np.exp(-((x - 40) ** 2 + (y - 50) ** 2) / 40)[..., None]
    Image.fromarray(sky.clip(0, 255).astype(np.uint8)).save(tmp_path / "galaxy.jpg")
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        script = tmp_path / "snippet.py"
        script.write_text(block.replace("/path/to/this/folder", str(exported)))
        namespace = runpy.run_path(str(script))
    assert namespace["framed"].size[0] < 96  # cropped around the galaxy


def _png(rgb: np.ndarray) -> bytes:
    from cosmoalign.imaging import encode_png

    return encode_png(rgb)
