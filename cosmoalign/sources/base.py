"""What every survey source yields: raw items exactly as they came from upstream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

PayloadFormat = Literal["fits", "jpeg", "png", "npy", "none"]
UNLABELLED = -1


@dataclass(frozen=True)
class RawItem:
    """One upstream image before any validation.

    ``payload`` holds the bytes as received (a FITS file, a JPEG, a PNG) or, for sources that ship
    arrays (HDF5), an ``.npy`` serialisation of the array. ``error`` is set instead of a payload
    when the item could not be fetched; curation quarantines it with that reason.
    """

    object_id: str
    source: str
    payload: bytes
    payload_format: PayloadFormat
    source_file: str
    label: int = UNLABELLED
    label_name: str | None = None
    ra: float | None = None
    dec: float | None = None
    bands: str = "rgb"
    error: str | None = None


class Source(Protocol):
    """A survey source: a name, its class names and a stream of raw items."""

    name: str

    def class_names(self) -> list[str]:
        """Names of the labels, indexed by label id (empty for unlabelled sources)."""
        ...

    def iter_items(self) -> Iterator[RawItem]:
        """Yield raw items one at a time, never holding the whole dataset in memory."""
        ...
