"""The measurements table: every captioned image measured once, then only what went stale.

A stored row is current when it has this code's :data:`MEASUREMENT_VERSION`, the image's
recorded frame and the digest of the stored image; everything else (new images, new code, a
changed image or frame) is measured again, in worker processes, and only the rows that changed
are committed (a merge-insert). Captions and regions read their numbers and boxes from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cosmoalign.captions.images import image_batches
from cosmoalign.captions.measurement import MEASUREMENT_VERSION, measure_png, png_digest
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.parallel import pool_map, worker_pool
from cosmoalign.progress import Meter, Progress
from cosmoalign.schema import MEASUREMENT_SCHEMA, MEASUREMENTS_TABLE

_KEY_COLUMNS = ["object_id", "measurement_version", "image_sha256", "frame"]


@dataclass(frozen=True)
class MeasureResult:
    """What a measuring pass wrote and how much of it was new work."""

    summary: WriteSummary
    measured: int
    reused: int


def measure_partition(
    lake: Lake,
    partition: str,
    batch_size: int = 64,
    progress: Progress | None = None,
    workers: int | None = None,
) -> MeasureResult:
    """(Re)write the measurements of one partition, measuring only missing or stale rows on
    ``workers`` processes (default ``$COSMOALIGN_WORKERS`` or one per core).

    A first pass reads and hashes the stored images to find the stale rows (and the total for
    ``progress``); a second one measures them, when there are any.
    """
    stored = _stored_keys(lake, partition)
    digests: dict[str, str] = {}
    stale: set[str] = set()
    columns = ["object_id", "split", "image_png", "frame"]
    for batch in image_batches(lake, partition, batch_size, columns):
        for row in batch.to_pylist():
            object_id = row["object_id"]
            digests[object_id] = png_digest(row["image_png"])
            if stored.get(object_id) != (MEASUREMENT_VERSION, digests[object_id], row["frame"]):
                stale.add(object_id)
    if not stale:
        columns.remove("image_png")
    kept = _stored_rows(lake, partition, set(digests) - stale) if len(stale) < len(digests) else {}
    meter = Meter(len(stale), progress)
    with (
        worker_pool(workers) as pool,
        lake.writer(MEASUREMENTS_TABLE, partition, MEASUREMENT_SCHEMA, merge_on="object_id") as out,
    ):
        for batch in image_batches(lake, partition, batch_size, columns):
            rows = batch.to_pylist()
            todo = [row for row in rows if row["object_id"] in stale]
            found = pool_map(pool, measure_png, [(row["image_png"], row["frame"]) for row in todo])
            fresh = {
                row["object_id"]: m.row(
                    row["object_id"], row["split"], digests[row["object_id"]], pixels, row["frame"]
                )
                for row, (m, pixels) in zip(todo, found, strict=True)
            }
            out.write_rows(
                fresh[row["object_id"]]
                if row["object_id"] in fresh
                else {**kept[row["object_id"]], "split": row["split"]}
                for row in rows
            )
            meter.add(len(todo))
    return MeasureResult(out.summary, len(stale), len(digests) - len(stale))


def current_measurements(
    lake: Lake, partition: str, object_ids: Sequence[str], needed_by: str
) -> dict[str, dict]:
    """The stored measurement rows of ``object_ids``, by object id; a clear error naming what is
    missing or stale when the ``measurements`` asset has not been brought up to date."""
    if not lake.exists(MEASUREMENTS_TABLE, partition):
        raise FileNotFoundError(
            f"{needed_by} of {partition!r} needs the measurements table, which has no data: "
            "materialize the `measurements` asset first"
        )
    wanted = set(object_ids)
    rows = {
        row["object_id"]: row
        for batch in lake.iter_batches(MEASUREMENTS_TABLE, partition)
        for row in batch.to_pylist()
        if row["object_id"] in wanted
    }
    missing = [object_id for object_id in object_ids if object_id not in rows]
    stale = [
        object_id
        for object_id, row in rows.items()
        if row["measurement_version"] != MEASUREMENT_VERSION
    ]
    if missing or stale:
        example = (missing or stale)[0]
        raise ValueError(
            f"{needed_by} of {partition!r}: {len(missing)} images have no measurement and "
            f"{len(stale)} were measured by another version than {MEASUREMENT_VERSION!r} "
            f"(first: {example!r}); materialize the `measurements` asset first"
        )
    return rows


def _stored_keys(lake: Lake, partition: str) -> dict[str, tuple]:
    if not lake.exists(MEASUREMENTS_TABLE, partition):
        return {}
    table = lake.read(MEASUREMENTS_TABLE, partition, _KEY_COLUMNS).to_pylist()
    return {
        row["object_id"]: (row["measurement_version"], row["image_sha256"], row["frame"])
        for row in table
    }


def _stored_rows(lake: Lake, partition: str, object_ids: set[str]) -> dict[str, dict]:
    return {
        row["object_id"]: row
        for batch in lake.iter_batches(MEASUREMENTS_TABLE, partition)
        for row in batch.to_pylist()
        if row["object_id"] in object_ids
    }
