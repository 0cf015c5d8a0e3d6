"""Evaluation plots as PNG bytes, drawn on bare matplotlib figures (Agg, no pyplot state)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import sklearn
from matplotlib import colormaps
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from cosmoalign.array_cache import cached_arrays

DPI = 90
_MIN_TSNE_POINTS = 10


def confusion_matrices_png(
    class_names: Sequence[str], confusions: Mapping[str, Sequence[Sequence[int]]]
) -> bytes:
    """One row-normalised confusion matrix per model, side by side, with the counts written in."""
    size = max(3.0, 0.45 * len(class_names) + 1.5)
    figure = Figure(figsize=(size * len(confusions) + 1.0, size), layout="constrained")
    axes = figure.subplots(1, len(confusions), squeeze=False)[0]
    ticks = np.arange(len(class_names))
    for ax, (model, confusion) in zip(axes, confusions.items(), strict=True):
        counts = np.asarray(confusion)
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
        for (row, column), count in np.ndenumerate(counts):
            if count:
                colour = "white" if rates[row, column] > 0.5 else "black"
                ax.text(column, row, str(count), ha="center", va="center", fontsize=7, c=colour)
        ax.set(title=model, xlabel="predicted", ylabel="true", xticks=ticks, yticks=ticks)
        ax.set_xticklabels(class_names, rotation=60, ha="right", fontsize=7)
        ax.set_yticklabels(class_names, fontsize=7)
    figure.colorbar(image, ax=axes, shrink=0.8, label="fraction of true class")
    return _png(figure)


def per_class_recall_png(
    class_names: Sequence[str], recalls: Mapping[str, Sequence[float | None]]
) -> bytes:
    """Grouped bars of zero-shot recall per class, one bar per model (no bar: class unseen)."""
    figure = Figure(figsize=(max(5.0, 0.5 * len(class_names) + 2.0), 3.5), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(class_names))
    width = 0.8 / len(recalls)
    for index, (model, recall) in enumerate(recalls.items()):
        heights = [np.nan if value is None else value for value in recall]
        ax.bar(positions + (index - (len(recalls) - 1) / 2) * width, heights, width, label=model)
    ax.set_xticks(positions)
    ax.set_xticklabels(class_names, rotation=60, ha="right", fontsize=7)
    ax.set(ylabel="zero-shot recall", ylim=(0.0, 1.0))
    ax.legend(fontsize=8, ncols=len(recalls), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(figure)


def recall_curves_png(curves: Mapping[str, Mapping[str, Sequence[float]]]) -> bytes:
    """Recall@k against k: one panel per direction (title), one line per model."""
    directions = list(
        dict.fromkeys(direction for by_model in curves.values() for direction in by_model)
    )
    figure = Figure(figsize=(4.0 * len(directions), 3.2), layout="constrained")
    axes = figure.subplots(1, len(directions), squeeze=False, sharey=True)[0]
    for ax, direction in zip(axes, directions, strict=True):
        for model, by_direction in curves.items():
            curve = by_direction[direction]
            ax.plot(np.arange(1, len(curve) + 1), curve, marker=".", label=model)
        ax.set(title=direction, xlabel="k", ylim=(0.0, 1.02))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall@k")
    axes[0].legend(fontsize=8)
    return _png(figure)


def embedding_map_png(
    embeddings: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> bytes:
    """A 2-D map of the embeddings coloured by class: t-SNE (PCA init), or PCA below 10 points;
    the projection is cached in ``cache_dir`` (see :func:`project_2d`)."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels)
    points = project_2d(embeddings, seed, cache_dir)
    method = "t-SNE" if len(embeddings) >= _MIN_TSNE_POINTS else "PCA"
    figure = Figure(figsize=(6.0, 4.5), layout="constrained")
    ax = figure.subplots()
    colours = _class_colours(len(class_names))
    for class_id, name in enumerate(class_names):
        chosen = labels == class_id
        if chosen.any():
            ax.scatter(*points[chosen].T, s=8, color=colours[class_id], label=name, alpha=0.8)
    ax.set(title=f"{method} of image embeddings", xticks=[], yticks=[])
    ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(figure)


def project_2d(
    embeddings: np.ndarray, seed: int = 0, cache_dir: str | os.PathLike | None = None
) -> np.ndarray:
    """(N, 2) coordinates: t-SNE with PCA init and a fixed seed, or PCA when N < 10.

    With ``cache_dir`` they are read from, or else written to, ``<cache_dir>/<key>.map.npz``
    (key: :func:`projection_key`), and computed again when that file is unreadable.
    """
    path = Path(cache_dir) / f"{projection_key(embeddings, seed)}.map.npz" if cache_dir else None
    stored = cached_arrays(
        path,
        lambda: {"points": _project(embeddings, seed)},
        lambda arrays: arrays.get("points", np.empty(0)).shape == (len(embeddings), 2),
    )
    return stored["points"]


def projection_key(embeddings: np.ndarray, seed: int) -> str:
    """sha256 of the embeddings (values, dtype and shape), the seed and scikit-learn's version."""
    embeddings = np.ascontiguousarray(embeddings)
    header = [embeddings.dtype.str, embeddings.shape, seed, sklearn.__version__]
    digest = hashlib.sha256(json.dumps(header).encode())
    digest.update(embeddings.tobytes())
    return digest.hexdigest()


def _project(embeddings: np.ndarray, seed: int) -> np.ndarray:
    if len(embeddings) < _MIN_TSNE_POINTS:
        components = min(2, *embeddings.shape)
        points = PCA(n_components=components, random_state=seed).fit_transform(embeddings)
        return np.pad(points, ((0, 0), (0, 2 - components)))
    perplexity = min(30.0, (len(embeddings) - 1) / 3)
    tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed)
    return tsne.fit_transform(embeddings)


def _class_colours(n: int) -> np.ndarray:
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return cmap(np.arange(n) % cmap.N)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
