"""Similarity and text search over a lake partition's embeddings or any folder of images."""

from __future__ import annotations

import numpy as np

from cosmoalign.evaluate.embed import embed_images, embed_texts
from cosmoalign.models.fingerprint import model_identity
from cosmoalign.models.spec import ClipBundle
from cosmoalign.search.folder import FolderEmbeddings, render_file
from cosmoalign.search.gallery import Hit, thumbnail
from cosmoalign.search.index import EmbeddingIndex


def text_vector(bundle: ClipBundle, text: str) -> np.ndarray:
    """The L2-normalised embedding of a query text."""
    if not text.strip():
        raise ValueError("the query text is empty")
    return embed_texts(bundle, [text])[0]


def image_vector(bundle: ClipBundle, png: bytes) -> np.ndarray:
    """The L2-normalised embedding of an encoded image (already framed as wanted)."""
    return embed_images(bundle, [png])[0]


def search_folder(folder: FolderEmbeddings, query: np.ndarray, k: int, framing: bool) -> list[Hit]:
    """The ``k`` images of ``folder`` most similar to ``query`` (exact cosine), best first, with
    thumbnails of what the model saw."""
    if not folder.paths:
        raise ValueError(f"{folder.root}: no readable images to search")
    scores = folder.vectors @ np.asarray(query, dtype=np.float32)
    order = np.argsort(-scores, kind="stable")[:k]
    return [
        Hit(
            rank=rank,
            id=folder.paths[i],
            score=float(scores[i]),
            label=folder.labels[i],
            image=thumbnail(render_file(folder.root / folder.paths[i], framing)),
        )
        for rank, i in enumerate(order, start=1)
    ]


def search_index(index: EmbeddingIndex, query: np.ndarray, k: int) -> list[Hit]:
    """The ``k`` objects of a lake partition nearest ``query``, best first."""
    found = index.search(query, k).to_pylist()
    return [
        Hit(
            rank=rank,
            id=row["object_id"],
            score=float(row["score"]),
            label=row["label_name"],
            image=row["thumbnail"],
        )
        for rank, row in enumerate(found, start=1)
    ]


def check_model_matches(index: EmbeddingIndex, bundle: ClipBundle) -> None:
    """Refuse a model other than the one the partition's embeddings were made with."""
    recorded = index.metadata.get("model_identity")
    if recorded != model_identity(bundle):
        raise ValueError(
            f"{index.uri} was embedded with {index.metadata.get('model', 'another model')}, not "
            f"{bundle.name}: query with that model, or rematerialize the embeddings asset"
        )
