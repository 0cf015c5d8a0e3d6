"""The hostile-file zoo through a local folder, ingest and curation: every bad file is
quarantined with its reason, nothing outside the folder is read, nothing hangs, and the partition
lands with the good rows."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from cosmoalign.curate import CurationConfig
from cosmoalign.imaging import decode_png
from cosmoalign.ingest import curate_partition, ingest_source
from cosmoalign.lake import Lake
from cosmoalign.schema import CURATED_TABLE, QUARANTINE_TABLE, RAW_TABLE
from cosmoalign.sources.local import FolderSource
from tests.fixtures.hostile import build_zoo

MAX_FILE_BYTES = 1_000_000
HANG_LIMIT_S = 60


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail the test (instead of hanging the suite) if it runs past the limit, as a FIFO that
    gets opened would make it."""

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {HANG_LIMIT_S} s: something blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_LIMIT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_every_hostile_file_is_quarantined_with_its_reason_and_the_good_rows_land(
    tmp_path: Path, no_hang: None
) -> None:
    folder, outside = tmp_path / "images", tmp_path / "outside"
    good, reasons = build_zoo(folder, outside, MAX_FILE_BYTES)
    lake = Lake(str(tmp_path / "lake"))

    source = FolderSource(folder, max_file_bytes=MAX_FILE_BYTES)
    ingest_source(source, lake, "zoo", batch_size=4)
    result = curate_partition(lake, "zoo", CurationConfig(), batch_size=3, workers=2)

    raw = {row["object_id"]: row for row in lake.read(RAW_TABLE, "zoo").to_pylist()}
    for object_id in ("local-escape", "local-hostname", "local-x", "local-huge", "local-zeros"):
        assert raw[object_id]["payload"] == b"", f"{object_id} was read"
    assert (outside / "secret.png").read_bytes() not in {row["payload"] for row in raw.values()}

    quarantine = {r["object_id"]: r for r in lake.read(QUARANTINE_TABLE, "zoo").to_pylist()}
    assert set(quarantine) == set(reasons)
    for object_id, fragment in reasons.items():
        row = quarantine[object_id]
        assert fragment.lower() in row["reason"].lower(), (object_id, row["reason"])
        assert row["source_file"].startswith(str(folder)), row
    assert "not decoded" in quarantine["local-bomb"]["reason"]  # caught on the header

    images = lake.read(CURATED_TABLE, "zoo").to_pylist()
    assert {row["object_id"] for row in images} == good
    for row in images:
        assert decode_png(row["image_png"]).shape == (row["height"], row["width"], 3)
    assert result.report.accepted == len(good)
    assert sum(result.report.rejected.values()) == len(reasons)
