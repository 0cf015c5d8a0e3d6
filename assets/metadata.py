"""Metadata helpers shared by the assets: count tables, sample grids, lake summaries."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping

import dagster as dg
import pyarrow as pa

from cosmoalign.imaging import DecodeError, decode_payload, encode_png, to_rgb8
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.preview import image_grid
from cosmoalign.schema import ORIGINAL, RAW_TABLE


def counts_table(columns: Mapping[str, Mapping[str, int]], key: str = "class") -> dg.MetadataValue:
    """A markdown table of counts: one row per ``key`` (a class), one column per named count."""
    names = sorted({name for counts in columns.values() for name in counts})
    header = f"| {key} | " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    rows = [
        f"| {name} | " + " | ".join(str(counts.get(name, 0)) for counts in columns.values()) + " |"
        for name in names
    ]
    return dg.MetadataValue.md("\n".join([header, rule, *rows]))


def write_summary_metadata(summary: WriteSummary) -> dict[str, dg.MetadataValue]:
    """Row count, content hash (the data version), Lance version and location of a committed
    partition; ``Lake.read(..., version=lance_version)`` reads exactly what was materialized."""
    return {
        "dagster/row_count": dg.MetadataValue.int(summary.rows),
        "content_hash": dg.MetadataValue.text(summary.content_hash),
        "lance_version": dg.MetadataValue.int(summary.version),
        "path": dg.MetadataValue.path(summary.path),
        "parts": dg.MetadataValue.int(summary.parts),
    }


def sample_grid(
    lake: Lake,
    batches: Iterable[pa.RecordBatch],
    name: str,
    per_class: int = 8,
    class_count: int = 0,
) -> dict[str, dg.MetadataValue]:
    """A grid of sample images per class (augmented copies first, when present).

    Batches need ``label_name`` and ``image_png`` (``provenance`` optional); at most
    ``per_class`` images per class are kept, so memory stays small whatever the partition size.
    """
    samples = _collect(batches, per_class, lambda row: row["image_png"], class_count)
    return _grid_metadata(lake, samples, name)


def raw_sample_grid(
    lake: Lake, partition: str, name: str, class_count: int, per_class: int = 8
) -> dict[str, dg.MetadataValue]:
    """A grid of raw items per class, decoding only the samples shown (undecodable ones skipped)."""

    def render(row: dict) -> bytes | None:
        if row["error"]:
            return None
        try:
            pixels = decode_payload(row["payload"], row["payload_format"])
        except DecodeError:
            return None
        return encode_png(to_rgb8(pixels, row["bands"] or ""))

    columns = ["label_name", "payload", "payload_format", "bands", "error"]
    batches = lake.iter_batches(RAW_TABLE, partition, columns=columns, batch_size=64)
    return _grid_metadata(lake, _collect(batches, per_class, render, class_count), name)


def _collect(
    batches: Iterable[pa.RecordBatch],
    per_class: int,
    image_of: Callable[[dict], bytes | None],
    class_count: int,
) -> dict[str, list[bytes]]:
    """Up to ``per_class`` images per class, augmented ones preferred; ``image_of`` is called only
    for rows that are kept. Reading stops once ``class_count`` classes (if given) are full."""
    buckets: dict[str, tuple[list[bytes], list[bytes]]] = {}
    for batch in batches:
        for row in batch.to_pylist():
            augmented, original = buckets.setdefault(row["label_name"] or "unlabelled", ([], []))
            bucket = original if row.get("provenance", ORIGINAL) == ORIGINAL else augmented
            if len(bucket) < per_class and (image := image_of(row)) is not None:
                bucket.append(image)
        full = sum(len(a) + len(o) >= per_class for a, o in buckets.values())
        if class_count and full >= class_count:
            break
    return {name: (a + o)[:per_class] for name, (a, o) in buckets.items()}


def _grid_metadata(
    lake: Lake, samples: dict[str, list[bytes]], name: str
) -> dict[str, dg.MetadataValue]:
    """Write the grid under ``<root>/previews/`` and inline it so the UI shows it directly."""
    png = image_grid(dict(sorted(samples.items())), tile=48)
    path = lake.write_bytes(f"previews/{name}.png", png)
    encoded = base64.b64encode(png).decode()
    return {
        "sample_grid": dg.MetadataValue.md(f"![samples](data:image/png;base64,{encoded})"),
        "sample_grid_path": dg.MetadataValue.path(path),
    }
