"""Zero-shot classification with a CLIP model: softmax over the labels' prompt ensembles."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from cosmoalign.evaluate.data import PROMPT_TEMPLATES
from cosmoalign.evaluate.embed import embed_texts
from cosmoalign.models.spec import ClipBundle

PROBABILITY_PREFIX = "p_"


def parse_templates(templates: Sequence[str] | None) -> list[str]:
    """Prompt templates, each with one ``{}`` where the label goes (default: the evaluation's).

    A single existing file is read as one template per line."""
    if not templates:
        return list(PROMPT_TEMPLATES)
    if len(templates) == 1 and Path(templates[0]).is_file():
        lines = Path(templates[0]).read_text(encoding="utf-8").splitlines()
        templates = [line.strip() for line in lines if line.strip()]
    for template in templates:
        if template.count("{}") != 1:
            raise ValueError(f"template {template!r} must hold exactly one {{}} for the label")
    return list(templates)


def label_probabilities(
    bundle: ClipBundle,
    image_vectors: np.ndarray,
    labels: Sequence[str],
    templates: Sequence[str] = PROMPT_TEMPLATES,
) -> np.ndarray:
    """(N, L) probabilities: softmax over labels of the model's scaled cosine similarity
    between each image and the mean (re-normalised) embedding of the label's prompts."""
    prompts = [template.format(label) for label in labels for template in templates]
    text = embed_texts(bundle, prompts).reshape(len(labels), len(templates), -1).mean(axis=1)
    text /= np.linalg.norm(text, axis=-1, keepdims=True)
    scale = float(bundle.model.logit_scale.detach().exp().clamp(max=100).cpu())
    logits = torch.from_numpy(scale * (np.asarray(image_vectors, np.float32) @ text.T))
    return torch.softmax(logits.double(), dim=-1).numpy()


def labels_table(
    ids: Sequence[str], probabilities: np.ndarray, labels: Sequence[str], id_column: str
) -> pa.Table:
    """One row per image: its id, the most probable label and its probability, then
    ``p_<label>`` for every label."""
    best = probabilities.argmax(axis=1) if len(ids) else np.zeros(0, dtype=int)
    columns = {
        id_column: pa.array(list(ids), pa.string()),
        "label": pa.array([labels[i] for i in best], pa.string()),
        "probability": pa.array(probabilities[np.arange(len(ids)), best], pa.float64()),
    }
    for j, label in enumerate(labels):
        columns[f"{PROBABILITY_PREFIX}{label}"] = pa.array(probabilities[:, j], pa.float64())
    return pa.table(columns)
