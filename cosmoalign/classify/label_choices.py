"""The labels to choose between: the default set and parsing a user's (light: no torch)."""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_LABELS = ("elliptical", "spiral", "edge-on disk", "merging")


def parse_labels(text: str | Sequence[str]) -> list[str]:
    """Labels from a comma-separated string (or a list), stripped; duplicates are an error."""
    labels = [part.strip() for part in (text.split(",") if isinstance(text, str) else text)]
    labels = [label for label in labels if label]
    if len(labels) < 2:
        raise ValueError(f"need at least two labels to choose between, got {labels}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels repeat: {labels}")
    return labels
