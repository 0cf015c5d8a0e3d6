"""How often each statement of the morphology captioner is true, on images with known answers.

- Real: the 600 SDSS galaxies of gz-kaggle-spirals ``validation`` (Galaxy Zoo spiral or not; the
  spiral model was fitted on the ``train`` split, so these are held out). A "spiral" statement is
  true on ``spirals``; "elliptical" and "lenticular" (smooth, no arms) are true on
  ``non_spirals``. Edge-on and merger statements have no answer in this set: their rates per
  class are reported, not a precision.
- Procedural: the embedded source's labelled renders (Galaxy10 classes), where every type has a
  true answer through the class's words in :mod:`cosmoalign.captions.vocabulary`.
- The two DECaLS FITS examples: the statements made, for the record (no labels).

Writes ``bench/results/caption_truth.json``::

    python bench/caption_truth.py [--per-class 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from cosmoalign.captions.galaxy_type import (
    EDGE_ON,
    ELLIPTICAL,
    IRREGULAR,
    LENTICULAR,
    MERGING,
    SPIRAL,
    TYPES,
    UNCERTAIN,
)
from cosmoalign.captions.measurement import measure_image
from cosmoalign.captions.vocabulary import label_words
from cosmoalign.imaging import decode_payload, to_rgb8
from cosmoalign.sources.embedded import EmbeddedSource
from cosmoalign.sources.local import fits_bands

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "caption_truth.json"
SMOOTH = (ELLIPTICAL, LENTICULAR)


def galaxy_type(rgb: np.ndarray) -> tuple[str, float]:
    """The captioner's type statement for one image (from its measurement, as the captions
    table gets it) and its spiral probability; an image with nothing detected is untyped."""
    _, m = measure_image(rgb)
    return m.galaxy_type or UNCERTAIN, m.spiral_probability


def _load(path: Path) -> np.ndarray:
    payload = path.read_bytes()
    if path.suffix == ".fits":
        return to_rgb8(decode_payload(payload, "fits"), fits_bands(payload))
    return to_rgb8(decode_payload(payload, "jpeg"))


def _typed(path: Path) -> tuple[str, float]:
    return galaxy_type(_load(path))


def precision(made: list[tuple[str, bool]]) -> dict[str, dict]:
    """Per statement: how often it was made and the fraction of those that were true."""
    out = {}
    for kind in TYPES:
        truths = [true for stated, true in made if stated == kind]
        out[kind] = {
            "made": len(truths),
            "precision": round(sum(truths) / len(truths), 3) if truths else None,
        }
    return out


def real_gz(workers: int) -> dict:
    """Statements on gz-kaggle-spirals validation against its spiral / non-spiral labels."""
    folder = DATA / "gz-kaggle-spirals" / "validation"
    paths = {cls: sorted((folder / cls).glob("*.jpg")) for cls in ("spirals", "non_spirals")}
    with ProcessPoolExecutor(workers) as pool:
        typed = {cls: list(pool.map(_typed, files, chunksize=8)) for cls, files in paths.items()}
    made = [(kind, kind == SPIRAL) for kind, _ in typed["spirals"]]
    made += [(kind, kind in SMOOTH) for kind, _ in typed["non_spirals"]]
    checkable = precision([(kind, true) for kind, true in made if kind in (SPIRAL, *SMOOTH)])
    from sklearn.metrics import roc_auc_score

    scores = [p for _, p in typed["spirals"]] + [p for _, p in typed["non_spirals"]]
    truth = [1] * len(typed["spirals"]) + [0] * len(typed["non_spirals"])
    return {
        "set": "gz-kaggle-spirals validation (600 real SDSS galaxies, Galaxy Zoo labels)",
        "precision": {k: v for k, v in checkable.items() if k in (SPIRAL, *SMOOTH)},
        "smooth_precision": _group_precision(made, SMOOTH),
        "statements_per_class": {
            cls: dict(Counter(kind for kind, _ in typed[cls])) for cls in typed
        },
        "spiral_probability_auc": round(float(roc_auc_score(truth, scores)), 3),
    }


def _group_precision(made: list[tuple[str, bool]], group: tuple[str, ...]) -> dict:
    truths = [true for stated, true in made if stated in group]
    return {
        "statements": list(group),
        "made": len(truths),
        "precision": round(sum(truths) / len(truths), 3) if truths else None,
    }


def _procedural_item(item) -> tuple[str, str]:
    rgb = to_rgb8(decode_payload(item.payload, item.payload_format), item.bands)
    return item.label_name, galaxy_type(rgb)[0]


def procedural(per_class: int, workers: int) -> dict:
    """Statements on labelled procedural renders against their Galaxy10 class's type."""
    source = EmbeddedSource(total=0, min_per_class=per_class, include_hst=False, max_real=0)
    items = list(source.iter_items())
    with ProcessPoolExecutor(workers) as pool:
        typed = list(pool.map(_procedural_item, items, chunksize=8))
    made = []
    for label_name, kind in typed:
        true_kind = label_words(label_name).kind
        true = kind == true_kind or (kind in SMOOTH and true_kind in SMOOTH)
        made.append((kind, true))
    return {
        "set": f"procedural Galaxy10-class renders ({per_class} per class, 128 px)",
        "precision": precision(made),
        "statements_per_class": {
            name: dict(Counter(kind for label, kind in typed if label == name))
            for name in source.class_names()
        },
        "recall": {
            kind: round(
                sum(k == kind for label, k in typed if label_words(label).kind == kind)
                / max(1, sum(label_words(label).kind == kind for label, _ in typed)),
                3,
            )
            for kind in (SPIRAL, EDGE_ON, MERGING, IRREGULAR, ELLIPTICAL, LENTICULAR)
        },
    }


def decals_examples() -> dict:
    """The statements made on the two real DECaLS FITS examples (no labels to check against)."""
    files = sorted((DATA / "decals-fits").glob("*.fits"))
    return {path.name: galaxy_type(_load(path))[0] for path in files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    results = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "real": real_gz(args.workers),
        "procedural": procedural(args.per_class, args.workers),
        "decals_examples": decals_examples(),
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
