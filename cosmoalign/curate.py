"""Curation: decode raw payloads, reject bad images into quarantine, dedupe and split.

Every rejected item keeps a reason naming what was wrong, and the rest of the partition proceeds.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cosmoalign.framing import Frame, measure_frame
from cosmoalign.imaging import MAX_PIXELS, DecodeError, decode_payload, encode_png, to_rgb8
from cosmoalign.schema import IMAGE_SCHEMA, ORIGINAL
from cosmoalign.splits import assign_splits


@dataclass(frozen=True)
class CurationConfig:
    """Thresholds for accepting an image."""

    min_size: int = 16
    max_size: int = 4096
    max_pixels: int = MAX_PIXELS
    """Width x height cap, checked on the file's header before decoding."""
    max_nonfinite_fraction: float = 0.0
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)


@dataclass
class CurationReport:
    """Counts of what curation accepted and rejected."""

    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    per_class: Counter = field(default_factory=Counter)
    per_split: Counter = field(default_factory=Counter)

    @property
    def quarantine_rate(self) -> float:
        """Fraction of raw items that were quarantined."""
        total = self.accepted + sum(self.rejected.values())
        return sum(self.rejected.values()) / total if total else 0.0


class Rejected(ValueError):
    """An image failed validation; the message is the quarantine reason."""


def validate(pixels: np.ndarray, config: CurationConfig) -> None:
    """Raise :class:`Rejected` if an image is non-finite, empty or of the wrong shape."""
    height, width, channels = pixels.shape
    if height == 0 or width == 0 or channels == 0:
        raise Rejected(f"empty image of shape {pixels.shape}")
    if not (
        config.min_size <= height <= config.max_size and config.min_size <= width <= config.max_size
    ):
        raise Rejected(
            f"wrong shape {pixels.shape}: sides must be within "
            f"[{config.min_size}, {config.max_size}]"
        )
    if channels not in (1, 2, 3, 4, 5):
        raise Rejected(f"wrong shape {pixels.shape}: unsupported number of bands {channels}")
    if pixels.dtype == np.uint8 and channels not in (1, 3, 4):
        raise Rejected(
            f"wrong shape {pixels.shape}: a uint8 image has 1, 3 or 4 channels "
            "(grey, RGB, RGBA), not a band stack"
        )
    if np.issubdtype(pixels.dtype, np.floating):
        nonfinite = float(np.mean(~np.isfinite(pixels)))
        if nonfinite > config.max_nonfinite_fraction:
            raise Rejected(f"{nonfinite:.1%} of pixels are NaN or inf")
        finite = pixels[np.isfinite(pixels)]
        if finite.size == 0 or float(finite.max()) == float(finite.min()):
            raise Rejected("empty image: every pixel has the same value")
    elif int(pixels.max()) == int(pixels.min()):
        raise Rejected("empty image: every pixel has the same value")


@dataclass(frozen=True)
class _Decoded:
    digest: str
    png: bytes
    width: int
    height: int
    frame: Frame


def _decode_and_render(row: dict, config: CurationConfig) -> _Decoded:
    """The per-row heavy work: decode, validate, hash the pixels, frame the galaxy and encode
    RGB as PNG."""
    if row["error"]:
        raise Rejected(f"unreadable: {row['error']}")
    pixels = decode_payload(row["payload"], row["payload_format"], config.max_pixels)
    validate(pixels, config)
    digest = hashlib.sha256(f"{pixels.dtype}{pixels.shape}".encode() + pixels.tobytes())
    rgb = to_rgb8(pixels, row["bands"] or "")
    frame = measure_frame(rgb)
    return _Decoded(digest.hexdigest(), encode_png(rgb), rgb.shape[1], rgb.shape[0], frame)


def _try_decode(row: dict, config: CurationConfig) -> _Decoded | Exception:
    """The row's rendering, or the exception that stopped it: any failure of one row is that
    row's quarantine reason, never the end of the partition."""
    try:
        return _decode_and_render(row, config)
    except Exception as exc:
        return exc


def _stage(error: Exception) -> str:
    if isinstance(error, DecodeError):
        return "decode"
    return "validate" if isinstance(error, Rejected) else "unexpected"


def _reason(error: Exception) -> str:
    if isinstance(error, Rejected | DecodeError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def curate_batch(
    raw: pa.RecordBatch,
    config: CurationConfig,
    seen_hashes: dict[str, str],
    report: CurationReport,
    pool: Executor | None = None,
) -> tuple[list[dict], list[dict]]:
    """Curate one raw batch into image rows (split left empty) and quarantine rows.

    Rows are decoded and PNG-encoded on ``pool`` when given (Pillow and NumPy release the GIL, so
    threads use every core); de-duplication then runs in row order, so the result is the same
    with or without a pool. ``seen_hashes`` maps pixel-content hashes to the first object id with
    that content, across batches, so an exact duplicate is quarantined naming the copy kept.
    """
    rows = raw.to_pylist()
    mapper = pool.map if pool is not None else map
    outcomes = list(mapper(_try_decode, rows, [config] * len(rows)))
    accepted: list[dict] = []
    rejected: list[dict] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        if isinstance(outcome, _Decoded) and outcome.digest in seen_hashes:
            outcome = Rejected(f"exact duplicate of {seen_hashes[outcome.digest]}")
        if not isinstance(outcome, _Decoded):
            stage = _stage(outcome)
            report.rejected[stage] += 1
            rejected.append(
                {
                    "object_id": row["object_id"],
                    "source": row["source"],
                    "source_file": row["source_file"],
                    "stage": stage,
                    "reason": _reason(outcome),
                }
            )
            continue
        seen_hashes[outcome.digest] = row["object_id"]
        report.accepted += 1
        report.per_class[row["label_name"] or "unlabelled"] += 1
        accepted.append(
            {
                "object_id": row["object_id"],
                "source": row["source"],
                "split": "",
                "label": row["label"],
                "label_name": row["label_name"],
                "ra": row["ra"],
                "dec": row["dec"],
                "image_png": outcome.png,
                "width": outcome.width,
                "height": outcome.height,
                "frame": list(outcome.frame),
                "bands": row["bands"],
                "provenance": ORIGINAL,
            }
        )
    return accepted, rejected


def apply_splits(
    batches: Iterator[pa.RecordBatch],
    assignment: dict[str, str],
    report: CurationReport,
) -> Iterator[pa.Table]:
    """Fill the ``split`` column of staged image batches from an assignment."""
    for batch in batches:
        table = pa.Table.from_batches([batch])
        splits = [assignment[oid] for oid in table.column("object_id").to_pylist()]
        report.per_split.update(splits)
        index = table.schema.get_field_index("split")
        yield table.set_column(index, IMAGE_SCHEMA.field("split"), pa.array(splits, pa.string()))


def split_assignment(batches: Iterator[pa.RecordBatch], config: CurationConfig) -> dict[str, str]:
    """Read ``object_id`` and ``label`` columns and assign stratified splits."""
    items: list[tuple[str, int]] = []
    for batch in batches:
        items.extend(
            zip(
                batch.column("object_id").to_pylist(),
                batch.column("label").to_pylist(),
                strict=True,
            )
        )
    return assign_splits(items, config.split_fractions)
