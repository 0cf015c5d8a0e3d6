"""Zero-shot labels: each image's probability of every label, from prompt-template ensembles."""

from cosmoalign.classify.zero_shot import (
    DEFAULT_LABELS,
    label_probabilities,
    labels_table,
    parse_labels,
    parse_templates,
)

__all__ = [
    "DEFAULT_LABELS",
    "label_probabilities",
    "labels_table",
    "parse_labels",
    "parse_templates",
]
