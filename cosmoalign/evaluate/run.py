"""Evaluate CLIP models on one evaluation set: the results dict the report renders."""

from __future__ import annotations

import hashlib
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from cosmoalign.array_cache import cached_arrays
from cosmoalign.evaluate.data import EvalSet
from cosmoalign.evaluate.embed import Embeddings, embed
from cosmoalign.evaluate.metrics import (
    LinearProbeResult,
    linear_probe,
    retrieval,
    similarity_search,
    zero_shot,
)
from cosmoalign.models.spec import ClipBundle
from cosmoalign.report.page import GalleryQuery

GALLERY_QUERIES = 4
_PROBE_FIELDS = {field.name for field in fields(LinearProbeResult)}
GALLERY_NEIGHBOURS = 5


def evaluate_model(
    bundle: ClipBundle,
    evalset: EvalSet,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike | None = None,
    k: int = 10,
    folds: int = 5,
    seed: int = 0,
) -> dict:
    """Embed ``evalset`` with ``bundle`` and measure it: see :func:`metrics_of`."""
    embeddings = embed(bundle, evalset, batch_size, device, cache_dir)
    return metrics_of(embeddings, evalset, k, folds, seed, cache_dir)


def metrics_of(
    embeddings: Embeddings,
    evalset: EvalSet,
    k: int = 10,
    folds: int = 5,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> dict:
    """One model's ``zero_shot``, ``retrieval``, ``similarity`` and ``linear_probe`` dicts.

    A metric that cannot be measured is None: ``retrieval`` without captions, ``similarity``
    when no image shares its class with another. The probe uses the classes with at least two
    images (its ``samples`` says how many images that is), with fewer folds if a class is
    smaller than ``folds``; it is None when fewer than two such classes remain. With
    ``cache_dir`` a probe is fitted once per set of image embeddings (a base and its exports with
    the image side locked share theirs).
    """
    image, labels = embeddings.image, evalset.labels
    counts = np.bincount(labels)
    shared = counts[labels] > 1  # images whose class has another image
    results = {
        "zero_shot": zero_shot(image, embeddings.class_text, labels).to_dict(),
        "retrieval": None,
        "similarity": None,
        "linear_probe": None,
    }
    if embeddings.text is not None:
        results["retrieval"] = retrieval(image, embeddings.text).to_dict()
    if shared.any():
        results["similarity"] = similarity_search(image, labels, k).to_dict()
    if np.count_nonzero(counts > 1) > 1:
        probe = _linear_probe(image[shared], labels[shared], folds, seed, cache_dir)
        results["linear_probe"] = {**probe, "samples": int(shared.sum())}
    return results


def _linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    folds: int,
    seed: int,
    cache_dir: str | os.PathLike | None,
) -> dict:
    """:func:`linear_probe`'s result, read from ``<cache_dir>/<key>.probe.npz`` when an equal
    probe was fitted before (key: the features, labels, folds and seed)."""
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(np.ascontiguousarray(features, np.float32).tobytes())
        digest.update(np.ascontiguousarray(labels, np.int64).tobytes())
        digest.update(f"{folds}:{seed}".encode())
        path = Path(cache_dir) / f"{digest.hexdigest()}.probe.npz"

    def fit() -> dict[str, np.ndarray]:
        result = linear_probe(features, labels, folds, seed).to_dict()
        return {name: np.asarray(value) for name, value in result.items()}

    stored = cached_arrays(path, fit, lambda arrays: set(arrays) == _PROBE_FIELDS)
    return {name: value.item() for name, value in stored.items()}


def compare(
    models: dict[str, ClipBundle],
    evalset: EvalSet,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike | None = None,
    k: int = 10,
    folds: int = 5,
    seed: int = 0,
) -> tuple[dict, dict]:
    """Evaluate every model (keyed by display name, e.g. ``base`` then ``fine-tuned``).

    Returns the results dict of :func:`cosmoalign.report.render_report` and its extra keyword
    arguments for the last model: ``embeddings`` (its image embeddings), ``labels`` and a
    ``gallery`` of a few queries with their nearest neighbours.
    """
    if not models:
        raise ValueError("compare needs at least one model")
    results = {"dataset": evalset.name, "class_names": list(evalset.class_names), "models": {}}
    for name, bundle in models.items():
        embeddings = embed(bundle, evalset, batch_size, device, cache_dir)
        results["models"][name] = metrics_of(embeddings, evalset, k, folds, seed, cache_dir)
    extras = {
        "embeddings": embeddings.image,
        "labels": evalset.labels,
        "gallery": gallery(embeddings.image, evalset),
    }
    return results, extras


def gallery(
    image_emb: np.ndarray,
    evalset: EvalSet,
    queries: int = GALLERY_QUERIES,
    neighbours: int = GALLERY_NEIGHBOURS,
) -> list[GalleryQuery]:
    """Evenly spread query images, each with its nearest other images by embedding similarity.

    Texts are the captions, or the class names where the set has none.
    """
    names = [evalset.class_names[label] for label in evalset.labels]
    texts = evalset.captions or names
    similarity = image_emb @ image_emb.T
    np.fill_diagonal(similarity, -np.inf)
    rows = []
    for query in np.unique(np.linspace(0, len(image_emb) - 1, queries).astype(int)):
        nearest = np.argsort(-similarity[query], kind="stable")[: min(neighbours, len(names) - 1)]
        found = [(evalset.images[i], texts[i], names[i]) for i in nearest]
        rows.append((evalset.images[query], texts[query], found))
    return rows
