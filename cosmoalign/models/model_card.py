"""A Hugging Face-style model card (``README.md``) beside every exported model.

The card is rendered from facts kept next to it in ``model_card.json`` (recipe, data, settings,
weights digest, and the evaluation once one has run), so the evaluation can add its table to a
card written at training time without re-deriving anything else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cosmoalign.files import atomic_write
from cosmoalign.report.key_numbers import key_numbers_markdown

CARD_FILE = "README.md"
FACTS_FILE = "model_card.json"
OPEN_LICENSED_BASES = ("offline-default", "tiny")
"""Bases whose weights are all Apache-2.0 (EfficientNet-Lite0, all-MiniLM-L6-v2, or random)."""

RECIPE_TEXT = {
    "cosmoclip": "CosmoCLIP (Imam et al., 2024): contrastive fine-tuning on FLARE-style "
    "class-balanced images whose label text is enriched with generated captions.",
    "galaxalign": "GalaxAlign (2024/25): a third modality of schematic symbols of galaxy shapes, "
    "first sharing the image encoder, then with its own encoder for the last stage.",
    "grain": "GRAIN (Halbe et al., 2024): the global caption loss plus fine-grained region "
    "descriptions grounded in image boxes.",
}
if TYPE_CHECKING:
    from cosmoalign.train.config import TrainConfig

_SETTINGS_LEFT_OUT = ("recipe", "lake_root", "partition", "run_dir", "export_to", "extra")


@dataclass
class ModelCard:
    """What a card says about one exported model."""

    recipe: str
    dataset: str
    """The lake partition the model was fine-tuned on."""
    base: str
    """The architecture (and pretrained tag) fine-tuned from."""
    training_pairs: int
    settings: dict
    weights_sha256: str
    evaluation: dict | None = None
    """``{"in_domain": results, "out_of_domain": {name: results}}`` of the recipe's evaluation."""
    tags: list[str] = field(default_factory=lambda: ["clip", "astronomy", "galaxies"])

    @classmethod
    def from_training(
        cls, config: TrainConfig, training_pairs: int, weights_sha256: str
    ) -> ModelCard:
        """The card of a run from its :class:`~cosmoalign.train.config.TrainConfig`."""
        settings = {k: v for k, v in asdict(config).items() if k not in _SETTINGS_LEFT_OUT}
        base = f"{config.arch}:{config.pretrained}" if config.pretrained else config.arch
        return cls(
            recipe=config.recipe,
            dataset=config.partition,
            base=base,
            training_pairs=training_pairs,
            settings=settings,
            weights_sha256=weights_sha256,
        )


def write_model_card(folder: str | os.PathLike, card: ModelCard) -> Path:
    """Write ``README.md`` and ``model_card.json`` into an export folder (each atomically)."""
    folder = Path(folder)
    atomic_write(folder / FACTS_FILE, json.dumps(asdict(card), indent=2, allow_nan=False))
    return atomic_write(folder / CARD_FILE, render_model_card(card))


def record_evaluation(folder: str | os.PathLike, results: Mapping) -> Path | None:
    """Add (or replace) the evaluation table of the card in an export folder; None (nothing
    written) for a folder without a card's facts, e.g. exported before cards existed."""
    folder = Path(folder)
    facts_path = folder / FACTS_FILE
    if not facts_path.is_file():
        return None
    card = ModelCard(**json.loads(facts_path.read_text(encoding="utf-8")))
    card.evaluation = json.loads(json.dumps(results))
    return write_model_card(folder, card)


def render_model_card(card: ModelCard) -> str:
    """The card as markdown with YAML front matter (model-card form of the Hugging Face Hub)."""
    license_ = "apache-2.0" if card.base.split(":")[0] in OPEN_LICENSED_BASES else "other"
    tags = "".join(f"  - {tag}\n" for tag in [*card.tags, card.recipe, "cosmoalign"])
    settings = "\n".join(f"| `{k}` | `{json.dumps(v)}` |" for k, v in card.settings.items())
    return f"""---
library_name: open_clip
pipeline_tag: zero-shot-image-classification
license: {license_}
tags:
{tags}datasets:
  - {card.dataset}
---

# cosmoalign {card.recipe} on {card.dataset}

A CLIP model fine-tuned by cosmoalign to align galaxy images with
astronomers' descriptions. Base: `{card.base}`. Weights: `open_clip_model.safetensors`
(sha256 `{card.weights_sha256}`).

## Training data

{card.training_pairs} image-caption pairs of the `{card.dataset}` dataset (its training split
after curation and class balancing), each image cropped to its galaxy-centred frame. Captions
join each image's label text with a generated description of the measured galaxy (type, size,
orientation, concentration, colour, companions).

## Recipe

{RECIPE_TEXT.get(card.recipe, card.recipe)}

## Settings

| setting | value |
|---|---|
{settings}

## Evaluation

{_evaluation_section(card.evaluation)}

## Limitations

- Trained on {card.training_pairs} pairs from one dataset; images from other surveys, bands or
  pixel scales are out of domain (see the out-of-domain rows above, where evaluated).
- Captions are machine-generated from measurements and labels, not written by astronomers;
  the model inherits their vocabulary and their mistakes (e.g. colour words on SDSS JPEGs).
- Zero-shot labels are similarities, not calibrated probabilities of physical classes; check
  them against labelled examples before using them for science.
- The model expects galaxy-centred crops like its training images (below); whole cutouts with
  much empty sky score worse.
- License `{license_}`: {_license_note(license_)}

## How to load with plain open_clip

```python
import open_clip
import torch
from PIL import Image

model, _, preprocess = open_clip.create_model_and_transforms("local-dir:/path/to/this/folder")
tokenizer = open_clip.get_tokenizer("local-dir:/path/to/this/folder")
model.eval()
image = preprocess(Image.open("galaxy.jpg").convert("RGB")).unsqueeze(0)
texts = tokenizer(["an image of a spiral galaxy", "an image of an elliptical galaxy"])
with torch.no_grad():
    image_features = model.encode_image(image)
    text_features = model.encode_text(texts)
image_features /= image_features.norm(dim=-1, keepdim=True)
text_features /= text_features.norm(dim=-1, keepdim=True)
print((100 * image_features @ text_features.T).softmax(dim=-1))
```

Uploaded to the Hugging Face Hub as it is, the folder loads with `"hf-hub:<user>/<repo>"`
in place of `"local-dir:..."`.

## How to frame an image

Training and evaluation see each galaxy in a square crop centred on it, sized from its measured
extent (4.5 half-light radii or 1.5 isophotal semi-major axes each side of the centre, whichever
is larger, and at least a quarter of the image's shorter side). Frame your images the same way:

```python
import numpy as np
from PIL import Image
from cosmoalign.framing import crop, measure_frame

rgb = np.asarray(Image.open("galaxy.jpg").convert("RGB"))
framed = Image.fromarray(crop(rgb, measure_frame(rgb)))  # then preprocess(framed)
```

`python -m cosmoalign.search` and `python -m cosmoalign.classify` frame images this way
(`--no-framing` keeps the whole field).
"""


def _evaluation_section(evaluation: Mapping | None) -> str:
    if not evaluation:
        return (
            "Not evaluated yet: materialize the recipe's evaluation asset (it adds the table of "
            "this model against its base here)."
        )
    sets = {"in_domain": evaluation["in_domain"], **evaluation.get("out_of_domain", {})}
    parts = [
        "The fine-tuned model against its base (zero-shot top-1/top-5 and balanced accuracy, "
        "image-text retrieval, similarity-search mAP, linear-probe accuracy):"
    ]
    for measured in sets.values():
        parts.append(f"**{measured['dataset']}**\n\n{key_numbers_markdown(measured)}")
    return "\n\n".join(parts)


def _license_note(license_: str) -> str:
    if license_ == "apache-2.0":
        return (
            "the base's weights (the offline default's EfficientNet-Lite0 and all-MiniLM-L6-v2) "
            "are Apache-2.0."
        )
    return "the license of the base model's weights applies; check it before redistributing."
