"""Training pairs: every captioned image joined with its caption, symbol and described regions.

One table feeds all three recipes: CosmoCLIP reads (image, caption), GalaxAlign adds the class's
schematic symbol, GRAIN adds the region boxes (normalised to [0, 1]) and their descriptions.
Images keep their whole field; ``frame`` (normalised too) is the galaxy-centred crop that
training and evaluation look at.
Rows keep their split, so evaluation reads the held-out rows from the same table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from cosmoalign.captions.caption_table import image_batches
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.schema import CAPTIONS_TABLE, PAIRS_TABLE, REGIONS_TABLE, SYMBOLS_TABLE
from cosmoalign.shards import dataset_partitions

PAIR_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("label", pa.int32(), nullable=False),
        pa.field("label_name", pa.string()),
        pa.field("image_png", pa.large_binary(), nullable=False),
        pa.field("frame", pa.list_(pa.float32(), 4), nullable=False),
        pa.field("caption", pa.string(), nullable=False),
        pa.field("symbol_key", pa.string()),
        pa.field("region_boxes", pa.list_(pa.list_(pa.float32(), 4)), nullable=False),
        pa.field("region_texts", pa.list_(pa.string()), nullable=False),
    ]
)

_IMAGE_COLUMNS = [
    *("object_id", "split", "label", "label_name", "image_png", "width", "height", "frame")
]


@dataclass(frozen=True)
class PairsResult:
    """What a join wrote, and the images left out for want of a caption."""

    summary: WriteSummary
    uncaptioned: list[str]
    without_symbol: int
    per_split: dict[str, Counter]
    """Rows per class name (``unlabelled`` for rows without one) in each split."""


def normalise_box(box: list[int], width: int, height: int) -> list[float]:
    """A pixel box ``(x0, y0, x1, y1)`` as fractions of the image size, clipped to [0, 1]."""
    x0, y0, x1, y1 = box
    clip = lambda v: min(max(v, 0.0), 1.0)  # noqa: E731
    return [clip(x0 / width), clip(y0 / height), clip(x1 / width), clip(y1 / height)]


def build_pairs(lake: Lake, dataset: str, batch_size: int = 256) -> PairsResult:
    """Join a dataset's images, captions, regions and symbols into its ``training_pairs``,
    shard after shard when it is sharded (:func:`~cosmoalign.shards.dataset_partitions`)."""
    symbols = (
        {
            row["label"]: row["symbol_key"]
            for row in lake.read(SYMBOLS_TABLE, dataset, ["label", "symbol_key"]).to_pylist()
        }
        if lake.exists(SYMBOLS_TABLE, dataset)
        else {}
    )
    uncaptioned: list[str] = []
    without_symbol = 0
    per_split: dict[str, Counter] = {}
    with lake.writer(PAIRS_TABLE, dataset, PAIR_SCHEMA) as writer:
        for partition in dataset_partitions(lake, dataset):
            captions = _by_object(lake, CAPTIONS_TABLE, partition, ["object_id", "caption"])
            regions = (
                _by_object(lake, REGIONS_TABLE, partition, ["object_id", "boxes", "texts"])
                if lake.exists(REGIONS_TABLE, partition)
                else {}
            )
            for rows in _image_rows(lake, partition, batch_size):
                out = []
                for row in rows:
                    caption = captions.get(row["object_id"])
                    if caption is None:
                        uncaptioned.append(row["object_id"])
                        continue
                    per_split.setdefault(row["split"], Counter())[
                        row["label_name"] or "unlabelled"
                    ] += 1
                    symbol = symbols.get(row["label"])
                    without_symbol += symbol is None
                    region = regions.get(row["object_id"], {"boxes": [], "texts": []})
                    out.append(_pair(row, caption["caption"], symbol, region))
                writer.write_rows(out)
    return PairsResult(writer.summary, uncaptioned, without_symbol, per_split)


def _pair(row: dict, caption: str, symbol: str | None, region: dict) -> dict:
    width, height = row["width"], row["height"]
    return {
        "object_id": row["object_id"],
        "split": row["split"],
        "label": row["label"],
        "label_name": row["label_name"],
        "image_png": row["image_png"],
        "frame": normalise_box(row["frame"], width, height),
        "caption": caption,
        "symbol_key": symbol,
        "region_boxes": [normalise_box(box, width, height) for box in region["boxes"]],
        "region_texts": region["texts"],
    }


def _by_object(lake: Lake, table: str, partition: str, columns: list[str]) -> dict[str, dict]:
    return {row["object_id"]: row for row in lake.read(table, partition, columns).to_pylist()}


def _image_rows(lake: Lake, partition: str, batch_size: int) -> Iterator[list[dict]]:
    for batch in image_batches(lake, partition, batch_size, _IMAGE_COLUMNS):
        yield batch.to_pylist()
