"""Metadata helpers shared by the assets: count tables, sample grids, lake summaries."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import dagster as dg
import pyarrow as pa

from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.preview import image_grid


def counts_table(columns: Mapping[str, Mapping[str, int]]) -> dg.MetadataValue:
    """A markdown table of counts: one row per class, one column per named count."""
    names = sorted({name for counts in columns.values() for name in counts})
    header = "| class | " + " | ".join(columns) + " |"
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
    """A grid of sample images per class (augmented copies first, when present).

    The PNG is written under ``<root>/previews/`` and also inlined in the metadata so the UI shows
    it without access to the lake.
    """
    rows = table.select(["label_name", "image_png", "provenance"]).to_pylist()
    rows.sort(key=lambda row: row["provenance"] == "original")
    samples: dict[str, list[bytes]] = {}
    for row in rows:
        images = samples.setdefault(row["label_name"] or "unlabelled", [])
        if len(images) < per_class:
            images.append(row["image_png"])
    png = image_grid(dict(sorted(samples.items())), tile=48)
    path = lake.write_bytes(f"previews/{name}.png", png)
    encoded = base64.b64encode(png).decode()
    return {
        "sample_grid": dg.MetadataValue.md(f"![samples](data:image/png;base64,{encoded})"),
        "sample_grid_path": dg.MetadataValue.path(path),
    }
