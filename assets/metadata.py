"""Metadata helpers shared by the assets: count tables, sample grids, lake summaries."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import dagster as dg
import pyarrow as pa

from cosmoalign.imaging import DecodeError, decode_payload, encode_png, to_rgb8
from cosmoalign.ingest import RAW_TABLE
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.preview import image_grid


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
    """Row count, content hash and location of a committed partition."""
    return {
        "dagster/row_count": dg.MetadataValue.int(summary.rows),
        "content_hash": dg.MetadataValue.text(summary.content_hash),
        "path": dg.MetadataValue.path(summary.path),
        "parts": dg.MetadataValue.int(summary.parts),
    }


def sample_grid(
    lake: Lake, table: pa.Table, name: str, per_class: int = 8
) -> dict[str, dg.MetadataValue]:
    """A grid of sample images per class (augmented copies first, when present)."""
    rows = table.select(["label_name", "image_png", "provenance"]).to_pylist()
    rows.sort(key=lambda row: row["provenance"] == "original")
    samples: dict[str, list[bytes]] = {}
    for row in rows:
        images = samples.setdefault(row["label_name"] or "unlabelled", [])
        if len(images) < per_class:
            images.append(row["image_png"])
    return _grid_metadata(lake, samples, name)


def raw_sample_grid(
    lake: Lake, partition: str, name: str, class_count: int, per_class: int = 8
) -> dict[str, dg.MetadataValue]:
    """A grid of raw items per class, decoding only the samples shown (undecodable ones skipped).

    Reading stops once ``class_count`` classes have ``per_class`` samples each.
    """
    columns = ["label_name", "payload", "payload_format", "bands", "error"]
    samples: dict[str, list[bytes]] = {}
    for batch in lake.iter_batches(RAW_TABLE, partition, columns=columns, batch_size=64):
        for row in batch.to_pylist():
            images = samples.setdefault(row["label_name"] or "unlabelled", [])
            if len(images) >= per_class or row["error"]:
                continue
            try:
                pixels = decode_payload(row["payload"], row["payload_format"])
            except DecodeError:
                continue
            images.append(encode_png(to_rgb8(pixels, row["bands"] or "")))
        full = sum(len(images) >= per_class for images in samples.values())
        if class_count and full >= class_count:
            break
    return _grid_metadata(lake, samples, name)


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
