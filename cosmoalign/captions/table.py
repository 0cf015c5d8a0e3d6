"""The captions table: caption every image once, and later only the rows that went stale.

A row is current when its captioner name, version and prompt hash match the captioner in use;
everything else (new images, a new captioner version, a changed prompt) is captioned again, and
only the rows that changed are committed (a Lance merge-insert, not a rewrite). The
images captioned are the training set (``balanced_images``) plus the held-out curated rows, so
retrieval can be evaluated on val/test captions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from cosmoalign.captions.base import Captioner, CaptionerInfo, compose_caption
from cosmoalign.imaging import decode_png
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.schema import CAPTION_SCHEMA

CAPTIONS_TABLE = "captions"
_IMAGE_COLUMNS = ["object_id", "split", "label_name", "image_png"]

Progress = Callable[[int, float], None]
"""Called after each batch with (rows captioned so far, rows captioned per second)."""


@dataclass(frozen=True)
class CaptionResult:
    """What a captioning pass wrote and how much of it was new work."""

    summary: WriteSummary
    captioned: int
    reused: int


def is_current(row: dict | None, info: CaptionerInfo) -> bool:
    """Whether a stored caption row exists and was written by exactly this captioner and prompt."""
    return row is not None and (row["captioner"], row["captioner_version"], row["prompt_hash"]) == (
        info.name,
        info.version,
        info.prompt_hash,
    )


def image_batches(
    lake: Lake, partition: str, batch_size: int, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """The rows to caption: the balanced training set, then the held-out curated rows."""
    columns = columns or _IMAGE_COLUMNS
    yield from lake.iter_batches("balanced_images", partition, columns, batch_size)
    for batch in lake.iter_batches("curated_images", partition, columns, batch_size):
        held_out = batch.filter(pc.not_equal(batch.column("split"), "train"))
        if held_out.num_rows:
            yield held_out


def existing_captions(lake: Lake, partition: str) -> dict[str, dict]:
    """Stored caption rows by object id (empty when the partition has none yet)."""
    if not lake.exists(CAPTIONS_TABLE, partition):
        return {}
    return {row["object_id"]: row for row in lake.read(CAPTIONS_TABLE, partition).to_pylist()}


def caption_partition(
    lake: Lake,
    partition: str,
    captioner: Captioner,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> CaptionResult:
    """(Re)write the captions of one partition, captioning only missing or stale rows and
    committing only the rows that changed."""
    info = captioner.info
    stored = existing_captions(lake, partition)
    captioned = reused = 0
    start = time.perf_counter()
    with (
        closing_captioner(captioner),
        lake.writer(CAPTIONS_TABLE, partition, CAPTION_SCHEMA, merge_on="object_id") as writer,
    ):
        for batch in image_batches(lake, partition, batch_size):
            rows = batch.to_pylist()
            stale = [row for row in rows if not is_current(stored.get(row["object_id"]), info)]
            fresh = _caption(captioner, stale)
            out = []
            for row in rows:
                kept = stored.get(row["object_id"])
                if is_current(kept, info):
                    out.append(kept | {"split": row["split"], "label_name": row["label_name"]})
                    reused += 1
                else:
                    out.append(fresh[row["object_id"]])
            writer.write_rows(out)
            captioned += len(stale)
            if progress is not None and stale:
                progress(captioned, captioned / (time.perf_counter() - start))
    return CaptionResult(writer.summary, captioned, reused)


@contextmanager
def closing_captioner(captioner: Captioner) -> Iterator[Captioner]:
    """Use a captioner and stop its workers afterwards (captioners with a ``close`` method)."""
    try:
        yield captioner
    finally:
        close = getattr(captioner, "close", None)
        if close is not None:
            close()


def _caption(captioner: Captioner, rows: list[dict]) -> dict[str, dict]:
    if not rows:
        return {}
    info = captioner.info
    images = [decode_png(row["image_png"]) for row in rows]
    descriptions = captioner.caption(images, [row["label_name"] for row in rows])
    return {
        row["object_id"]: {
            "object_id": row["object_id"],
            "split": row["split"],
            "label_name": row["label_name"],
            "description": description,
            "caption": compose_caption(row["label_name"], description),
            "captioner": info.name,
            "captioner_version": info.version,
            "prompt_hash": info.prompt_hash,
        }
        for row, description in zip(rows, descriptions, strict=True)
    }
