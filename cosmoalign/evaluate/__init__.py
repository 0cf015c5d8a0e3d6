"""Evaluation of image-text embedding models: zero-shot, retrieval, similarity search, probes."""

from cosmoalign.evaluate.metrics import (
    DirectionRecall,
    LinearProbeResult,
    RetrievalResult,
    SimilarityResult,
    ZeroShotResult,
    linear_probe,
    retrieval,
    similarity_search,
    zero_shot,
)

__all__ = [
    "DirectionRecall",
    "LinearProbeResult",
    "RetrievalResult",
    "SimilarityResult",
    "ZeroShotResult",
    "linear_probe",
    "retrieval",
    "similarity_search",
    "zero_shot",
]
