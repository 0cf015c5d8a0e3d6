"""Curation: decode raw payloads, reject bad images into quarantine, dedupe and split.

Every rejected item keeps a reason naming what was wrong, and the rest of the partition proceeds.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cosmoalign.imaging import DecodeError, decode_payload, encode_png, to_rgb8
from cosmoalign.schema import IMAGE_SCHEMA, ORIGINAL
from cosmoalign.splits import assign_splits


@dataclass(frozen=True)
class CurationConfig:
    """Thresholds for accepting an image."""

    min_size: int = 16
    max_size: int = 4096
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
    if np.issubdtype(pixels.dtype, np.floating):
        nonfinite = float(np.mean(~np.isfinite(pixels)))
        if nonfinite > config.max_nonfinite_fraction:
            raise Rejected(f"{nonfinite:.1%} of pixels are NaN or inf")
        finite = pixels[np.isfinite(pixels)]
        if finite.size == 0 or float(finite.max()) == float(finite.min()):
            raise Rejected("empty image: every pixel has the same value")
    elif int(pixels.max()) == int(pixels.min()):
        raise Rejected("empty image: every pixel has the same value")


def curate_batch(
    raw: pa.RecordBatch,
    config: CurationConfig,
    seen_hashes: dict[str, str],
    report: CurationReport,
) -> tuple[list[dict], list[dict]]:
    """Curate one raw batch into image rows (split left empty) and quarantine rows.

    ``seen_hashes`` maps pixel-content hashes to the first object id with that content, across
    batches, so exact duplicates are quarantined with a pointer to the copy that was kept.
    """
    accepted: list[dict] = []
    rejected: list[dict] = []
    for row in raw.to_pylist():
        try:
            if row["error"]:
                raise Rejected(f"fetch failed: {row['error']}")
            pixels = decode_payload(row["payload"], row["payload_format"])
            validate(pixels, config)
            digest = hashlib.sha256(
                f"{pixels.dtype}{pixels.shape}".encode() + pixels.tobytes()
            ).hexdigest()
            if digest in seen_hashes:
                raise Rejected(f"exact duplicate of {seen_hashes[digest]}")
            seen_hashes[digest] = row["object_id"]
            rgb = to_rgb8(pixels, row["bands"] or "")
        except (Rejected, DecodeError) as exc:
            stage = "decode" if isinstance(exc, DecodeError) else "validate"
            report.rejected[stage] += 1
            rejected.append(
                {
                    "object_id": row["object_id"],
                    "source": row["source"],
                    "source_file": row["source_file"],
                    "stage": stage,
                    "reason": str(exc),
                }
            )
            continue
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
                "image_png": encode_png(rgb),
                "width": rgb.shape[1],
                "height": rgb.shape[0],
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
