"""The captions table: caption every image once, and later only the rows that went stale.

A row is current when its captioner name, version and prompt hash match the captioner in use;
everything else (new images, a new captioner version, a changed prompt) is captioned again, and
only the rows that changed are committed (a Lance merge-insert, not a rewrite). The
images captioned are the training set (``balanced_images``) plus the held-out curated rows, so
retrieval can be evaluated on val/test captions.

A captioner that phrases measurements (:class:`~cosmoalign.captions.base.MeasurementCaptioner`,
the morphology default) reads no pixels: every row is phrased again from the ``measurements``
table, which costs microseconds, and only the rows whose text changed are committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cosmoalign.captions.base import (
    Captioner,
    CaptionerInfo,
    MeasurementCaptioner,
    compose_caption,
)
from cosmoalign.captions.images import image_batches, image_ids
from cosmoalign.captions.measurement_table import current_measurements
from cosmoalign.imaging import decode_png
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.progress import Meter, Progress
from cosmoalign.schema import CAPTION_SCHEMA, CAPTIONS_TABLE

_LABEL_COLUMNS = ["object_id", "split", "label_name"]


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
    committing only the rows that changed; ``progress`` hears of the rows captioned."""
    if isinstance(captioner, MeasurementCaptioner):
        return _phrase_partition(lake, partition, captioner, progress)
    info = captioner.info
    stored = existing_captions(lake, partition)
    ids = image_ids(lake, partition)
    meter = Meter(sum(not is_current(stored.get(i), info) for i in ids), progress)
    captioned = reused = 0
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
            meter.add(len(stale))
    return CaptionResult(writer.summary, captioned, reused)


def _phrase_partition(
    lake: Lake, partition: str, captioner: MeasurementCaptioner, progress: Progress | None
) -> CaptionResult:
    """Phrase every row again from its stored measurement; commit only the rows that changed."""
    info = captioner.info
    ids = image_ids(lake, partition)
    measured = current_measurements(lake, partition, ids, needed_by="captions")
    stored = existing_captions(lake, partition)
    meter = Meter(len(ids), progress)
    captioned = 0
    with lake.writer(CAPTIONS_TABLE, partition, CAPTION_SCHEMA, merge_on="object_id") as writer:
        for batch in image_batches(lake, partition, 1024, _LABEL_COLUMNS):
            rows = batch.to_pylist()
            descriptions = captioner.caption_measurements(
                [measured[row["object_id"]] for row in rows], [row["label_name"] for row in rows]
            )
            out = [
                _caption_row(row, description, info)
                for row, description in zip(rows, descriptions, strict=True)
            ]
            captioned += sum(stored.get(row["object_id"]) != row for row in out)
            writer.write_rows(out)
            meter.add(len(rows))
    return CaptionResult(writer.summary, captioned, len(ids) - captioned)


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
    images = [decode_png(row["image_png"]) for row in rows]
    descriptions = captioner.caption(images, [row["label_name"] for row in rows])
    return {
        row["object_id"]: _caption_row(row, description, captioner.info)
        for row, description in zip(rows, descriptions, strict=True)
    }


def _caption_row(row: dict, description: str, info: CaptionerInfo) -> dict:
    return {
        "object_id": row["object_id"],
        "split": row["split"],
        "label_name": row["label_name"],
        "description": description,
        "caption": compose_caption(row["label_name"], description),
        "captioner": info.name,
        "captioner_version": info.version,
        "prompt_hash": info.prompt_hash,
    }
