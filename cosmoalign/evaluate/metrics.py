"""Evaluation metrics of an image-text embedding model, as pure functions on numpy arrays.

Embeddings are float arrays with one row per item, assumed L2-normalised (so dot products are
cosine similarities) unless stated otherwise. Rankings sort by similarity, highest first, ties in
index order; in retrieval a true match that ties with another candidate ranks below it. Every
result is a frozen dataclass whose ``to_dict()`` holds only JSON-safe values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

_CURVE_MAX_K = 50


@dataclass(frozen=True)
class ZeroShotResult:
    """Zero-shot classification by nearest class prompt.

    ``per_class_recall[c]`` is None for a class with no samples; ``balanced_accuracy`` is the
    mean recall over the classes that have samples. ``confusion[true][pred]`` counts images.
    """

    top1: float
    top5: float
    balanced_accuracy: float
    per_class_recall: list[float | None]
    confusion: list[list[int]]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DirectionRecall:
    """Retrieval in one direction: recall at 1, 5 and 10, median rank (1-based) and the curve.

    ``recall_curve[k - 1]`` is recall@k for k = 1 .. min(N, 50).
    """

    r1: float
    r5: float
    r10: float
    median_rank: float
    recall_curve: list[float]


@dataclass(frozen=True)
class RetrievalResult:
    """Cross-modal retrieval of the paired item among all N candidates, in both directions."""

    image_to_text: DirectionRecall
    text_to_image: DirectionRecall

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SimilarityResult:
    """Same-class image search: mean average precision and mean precision at ``k``."""

    map_at_k: float
    precision_at_k: float
    k: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LinearProbeResult:
    """Cross-validated accuracy of a logistic regression on frozen features."""

    accuracy_mean: float
    accuracy_std: float
    folds: int

    def to_dict(self) -> dict:
        return asdict(self)


def zero_shot(
    image_emb: np.ndarray, class_text_emb: np.ndarray, labels: np.ndarray
) -> ZeroShotResult:
    """Classify each image as the class whose prompt ensemble it is most similar to.

    ``class_text_emb`` is (C, T, E): T prompt templates per class. A class's ensemble is the mean
    of its T embeddings, re-normalised. Labels are class indices in [0, C); top-5 uses min(5, C).
    """
    image_emb = _matrix(image_emb, "image_emb")
    class_text_emb = np.asarray(class_text_emb, dtype=np.float64)
    if class_text_emb.ndim != 3 or class_text_emb.shape[2] != image_emb.shape[1]:
        raise ValueError(
            f"class_text_emb must be (C, T, {image_emb.shape[1]}), got {class_text_emb.shape}"
        )
    n_classes = class_text_emb.shape[0]
    labels = _labels(labels, len(image_emb))
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), got {labels.min()}..{labels.max()}")

    ensembles = _normalise(class_text_emb.mean(axis=1))
    ranking = _rank_descending(image_emb @ ensembles.T)
    predicted = ranking[:, 0]
    top5 = (ranking[:, : min(5, n_classes)] == labels[:, None]).any(axis=1)

    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    support = confusion.sum(axis=1)
    recall = [float(confusion[c, c] / support[c]) if support[c] else None for c in range(n_classes)]
    return ZeroShotResult(
        top1=float(np.mean(predicted == labels)),
        top5=float(np.mean(top5)),
        balanced_accuracy=float(np.mean([r for r in recall if r is not None])),
        per_class_recall=recall,
        confusion=confusion.tolist(),
    )


def retrieval(image_emb: np.ndarray, text_emb: np.ndarray) -> RetrievalResult:
    """Image->text and text->image retrieval where row i of both arrays is a matching pair.

    The rank of the match is 1 + the number of other candidates at least as similar.
    """
    image_emb = _matrix(image_emb, "image_emb")
    text_emb = _matrix(text_emb, "text_emb")
    if image_emb.shape != text_emb.shape:
        raise ValueError(f"paired embeddings differ in shape: {image_emb.shape} {text_emb.shape}")
    similarity = image_emb @ text_emb.T
    return RetrievalResult(
        image_to_text=_direction_recall(similarity),
        text_to_image=_direction_recall(similarity.T),
    )


def similarity_search(emb: np.ndarray, labels: np.ndarray, k: int = 10) -> SimilarityResult:
    """Search each item's nearest neighbours (itself excluded) for items of its own class.

    For a query with R > 0 other items of its class and rel(r) = 1 when the result at rank r
    shares its class (else 0), with n = min(k, N - 1) results retrieved:

        AP@k = (1 / min(k, R)) * sum_{r=1..n} precision@r * rel(r)
        precision@k = (1 / n) * sum_{r=1..n} rel(r)

    where precision@r is the fraction of relevant items among the first r. Both are averaged
    over the queries with R > 0; queries alone in their class are skipped. The result's ``k`` is
    the cutoff n actually used.
    """
    emb = _matrix(emb, "emb")
    labels = _labels(labels, len(emb))
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(emb) < 2:
        raise ValueError("similarity search needs at least two items")
    cutoff = min(k, len(emb) - 1)

    similarity = emb @ emb.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = _rank_descending(similarity)[:, :cutoff]
    relevant = labels[neighbours] == labels[:, None]  # (N, cutoff)
    _, classes, class_sizes = np.unique(labels, return_inverse=True, return_counts=True)
    n_relevant = class_sizes[classes] - 1  # same-class items besides the query
    queries = n_relevant > 0
    if not queries.any():
        raise ValueError("no item shares its class with another: nothing to search for")

    relevant, n_relevant = relevant[queries], n_relevant[queries]
    precision_at_rank = np.cumsum(relevant, axis=1) / np.arange(1, cutoff + 1)
    average_precision = (precision_at_rank * relevant).sum(axis=1) / np.minimum(k, n_relevant)
    return SimilarityResult(
        map_at_k=float(average_precision.mean()),
        precision_at_k=float(relevant.mean()),
        k=cutoff,
    )


def linear_probe(
    features: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0
) -> LinearProbeResult:
    """Stratified, shuffled k-fold accuracy of logistic regression on standardised features.

    The scaler is fitted on each training fold only. ``folds`` is lowered to the smallest class
    count when a class has fewer samples; the result's ``folds`` is the number used and
    ``accuracy_std`` the population standard deviation over folds.
    """
    features = _matrix(features, "features")
    labels = _labels(labels, len(features))
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError("a linear probe needs at least two classes")
    if counts.min() < 2:
        singles = classes[counts < 2].tolist()
        raise ValueError(f"classes {singles} have a single sample: cannot cross-validate")
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    folds = int(min(folds, counts.min()))

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    accuracy = cross_val_score(model, features, labels, cv=splitter, scoring="accuracy")
    return LinearProbeResult(
        accuracy_mean=float(accuracy.mean()), accuracy_std=float(accuracy.std()), folds=folds
    )


def _direction_recall(similarity: np.ndarray) -> DirectionRecall:
    """Recall of the diagonal match of each row of an (N, N) query x candidate similarity."""
    match = np.diag(similarity)
    ranks = (similarity >= match[:, None]).sum(axis=1)  # counts the match itself: 1-based
    curve = [float(np.mean(ranks <= k)) for k in range(1, min(len(ranks), _CURVE_MAX_K) + 1)]
    return DirectionRecall(
        r1=float(np.mean(ranks <= 1)),
        r5=float(np.mean(ranks <= 5)),
        r10=float(np.mean(ranks <= 10)),
        median_rank=float(np.median(ranks)),
        recall_curve=curve,
    )


def _rank_descending(scores: np.ndarray) -> np.ndarray:
    """Column indices of each row from highest to lowest score; ties keep index order."""
    return np.argsort(-scores, axis=1, kind="stable")


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _matrix(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    return array


def _labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {n} integers, got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)
