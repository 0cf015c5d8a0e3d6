"""Score exported models the way a plain open_clip user would, on real labelled galaxies.

Each export folder is loaded with ``open_clip.create_model_and_transforms("local-dir:...")`` (no
cosmoalign model code), then scored on the four-class real set of
:mod:`cosmoalign.evaluate.real_sets` (704 real SDSS cutouts: elliptical and spiral from
gz-kaggle-spirals validation, edge-on disk and merging picked by eye from sdss-unlabelled), on
the whole cutout and on its galaxy-centred frame: four-way zero-shot balanced accuracy with four
templates ("a photo of a {} galaxy." ...), the confusion counts, and a 5-fold logistic probe on
the image embeddings. Writes ``bench/results/real_open_clip.json``::

    python bench/real_open_clip.py offline-default EXPORT [EXPORT ...] [--data SHARED_DATA]

``offline-default`` stands for the untrained base, exported to a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from cosmoalign.evaluate.real_sets import DEFAULT_REAL_EVAL, four_class_rows
from cosmoalign.framing import crop, measure_frame

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "real_open_clip.json"
TEMPLATES = (
    "a photo of a {} galaxy.",
    "an image of a {} galaxy.",
    "a telescope image of a {} galaxy.",
    "a survey cutout of a {} galaxy.",
)
FOUR_WAY = ("elliptical", "spiral", "edge-on disk", "merging")


def _class_texts(model, tokenizer, names) -> torch.Tensor:
    rows = []
    for name in names:
        text = model.encode_text(tokenizer([t.format(name) for t in TEMPLATES]))
        rows.append(torch.nn.functional.normalize(text, dim=-1).mean(0))
    return torch.nn.functional.normalize(torch.stack(rows), dim=-1)


@torch.no_grad()
def score(export: Path, paths: list[Path], labels: np.ndarray) -> dict:
    """Zero-shot and probe figures of one export, whole cutout and framed."""
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{export}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{export}")
    model.eval()
    four = _class_texts(model, tokenizer, FOUR_WAY)
    out = {}
    for view in ("whole", "framed"):
        images = []
        for path in paths:
            rgb = np.asarray(Image.open(path).convert("RGB"))
            if view == "framed":
                rgb = np.ascontiguousarray(crop(rgb, measure_frame(rgb)))
            images.append(preprocess(Image.fromarray(rgb)))
        features = torch.cat(
            [model.encode_image(torch.stack(images[i : i + 64])) for i in range(0, len(images), 64)]
        )
        features = torch.nn.functional.normalize(features, dim=-1)
        four_way = (features @ four.T).argmax(1).numpy()
        probe = cross_val_predict(
            LogisticRegression(max_iter=2000),
            features.numpy(),
            labels,
            cv=StratifiedKFold(5, shuffle=True, random_state=0),
        )
        out[view] = {
            "zero_shot_balanced_accuracy": round(balanced_accuracy_score(labels, four_way), 3),
            "probe_balanced_accuracy": round(balanced_accuracy_score(labels, probe), 3),
            "predicted_per_class": {
                cls: dict(
                    zip(
                        FOUR_WAY,
                        np.bincount(four_way[labels == i], minlength=4).tolist(),
                        strict=True,
                    )
                )
                for i, cls in enumerate(FOUR_WAY)
            },
        }
    return out


def _export_folder(name: str, scratch: Path) -> Path:
    """The folder of an export, or the offline-default base exported into ``scratch``."""
    if name != "offline-default":
        return Path(name)
    from cosmoalign.models import build_model, export_open_clip

    return export_open_clip(build_model(), scratch / "offline-default")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", help="export folders, or offline-default")
    parser.add_argument("--data", type=Path, default=DEFAULT_REAL_EVAL)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = four_class_rows()
    paths = [args.data / row["path"] for row in rows]
    labels = [FOUR_WAY.index(row["label"]) for row in rows]
    with tempfile.TemporaryDirectory() as scratch:
        results = {
            name: score(_export_folder(name, Path(scratch)), paths, np.asarray(labels))
            for name in args.exports
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
