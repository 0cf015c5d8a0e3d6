"""The captioner interface shared by the BLIP, MLLM and morphology backends."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class CaptionerInfo:
    """Who wrote a caption: stored per row so stale captions can be found and redone."""

    name: str
    version: str
    prompt_hash: str


@dataclass(frozen=True)
class Region:
    """A described part of an image: a pixel box ``(x0, y0, x1, y1)``, its text and a score."""

    box: tuple[int, int, int, int]
    text: str
    score: float


def prompt_hash(*parts: str) -> str:
    """A short stable hash of a prompt (and anything else that changes the output)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def compose_caption(label_name: str | None, description: str) -> str:
    """Join label text (in astronomers' words) and a generated description, as CosmoCLIP does."""
    from cosmoalign.captions.vocabulary import label_words

    description = description.strip()
    if not label_name:
        return description
    phrase = label_words(label_name).phrase
    article = "an" if phrase[0] in "aeiou" else "a"
    return f"an image of {article} {phrase}. {description}".strip()


class Captioner(Protocol):
    """Batched captioning: uint8 RGB images (with optional known labels) in, descriptions out."""

    info: CaptionerInfo

    def caption(
        self, images: Sequence[np.ndarray], labels: Sequence[str | None] | None = None
    ) -> list[str]:
        """One description per image, in order."""
        ...


@runtime_checkable
class MeasurementCaptioner(Protocol):
    """A captioner that phrases stored measurements (rows of the ``measurements`` table) and
    never needs the pixels: recaptioning with it measures nothing again."""

    info: CaptionerInfo

    def caption_measurements(
        self, rows: Sequence[dict], labels: Sequence[str | None] | None = None
    ) -> list[str]:
        """One description per measurement row, in order."""
        ...
