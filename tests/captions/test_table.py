"""Measuring a partition once, phrasing captions from the measurements, and redoing exactly the
rows that went stale (measurements, pixel captioners)."""

import dataclasses

import pandas as pd
import pyarrow as pa
import pytest

from cosmoalign.balance import balance_train_split
from cosmoalign.captions.caption_table import caption_partition
from cosmoalign.captions.images import image_ids
from cosmoalign.captions.measurement import MEASUREMENT_VERSION
from cosmoalign.captions.measurement_table import measure_partition
from cosmoalign.captions.morphology import MorphologyCaptioner
from cosmoalign.captions.region_table import regions_partition
from cosmoalign.imaging import decode_png, encode_png
from cosmoalign.ingest import curate_partition, ingest_source
from cosmoalign.lake import Lake
from cosmoalign.schema import (
    CAPTION_SCHEMA,
    CAPTIONS_TABLE,
    CURATED_TABLE,
    IMAGE_SCHEMA,
    MEASUREMENT_SCHEMA,
    MEASUREMENTS_TABLE,
    REGIONS_TABLE,
)
from cosmoalign.sources.embedded import EmbeddedSource


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(str(tmp_path_factory.mktemp("lake")))
    source = EmbeddedSource(total=0, min_per_class=10, size=48, include_hst=False, max_real=4)
    ingest_source(source, lake, "p")
    curate_partition(lake, "p")
    curated = lake.read(CURATED_TABLE, "p").to_pandas()
    balanced, _ = balance_train_split(curated)
    lake.write_table(
        "balanced_images", "p", pa.Table.from_pandas(balanced, IMAGE_SCHEMA, preserve_index=False)
    )
    return lake


@pytest.fixture(scope="module")
def measured(lake) -> Lake:
    """The lake with its measurements written once (on two worker processes)."""
    ticks = []
    result = measure_partition(lake, "p", batch_size=16, progress=ticks.append, workers=2)
    rows = len(image_ids(lake, "p"))
    assert (result.measured, result.reused) == (rows, 0)
    assert ticks[-1].done == ticks[-1].total == rows and ticks[-1].seconds_left == 0
    return lake


class PixelCaptioner:
    """A captioner that reads pixels (like BLIP), recording which images it was asked about."""

    def __init__(self, version: str = "1.0") -> None:
        self.inner = MorphologyCaptioner()
        self.info = dataclasses.replace(self.inner.info, name="pixels", version=version)
        self.calls = 0

    def caption(self, images, labels=None):
        self.calls += len(images)
        return self.inner.caption(images, labels)


class CountingMorphology(MorphologyCaptioner):
    """The morphology captioner, recording how many rows it phrased and any pixel use."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.phrased = self.pixel_calls = 0

    def caption(self, images, labels=None):
        self.pixel_calls += len(images)
        return super().caption(images, labels)

    def caption_measurements(self, rows, labels=None):
        self.phrased += len(rows)
        return super().caption_measurements(rows, labels)


def _captions(lake: Lake) -> pd.DataFrame:
    return lake.read(CAPTIONS_TABLE, "p").to_pandas().set_index("object_id")


def _measurements(lake: Lake) -> dict[str, dict]:
    return {row["object_id"]: row for row in lake.read(MEASUREMENTS_TABLE, "p").to_pylist()}


def test_every_captioned_image_is_measured_in_order_with_boxes_inside_it(measured):
    rows = measured.read(MEASUREMENTS_TABLE, "p").to_pylist()
    assert [row["object_id"] for row in rows] == image_ids(measured, "p")
    assert {row["split"] for row in rows} == {"train", "val", "test"}
    assert all(row["measurement_version"] == MEASUREMENT_VERSION for row in rows)
    detected = [row for row in rows if row["detected"]]
    assert len(detected) >= 0.9 * len(rows)
    assert {row["galaxy_type"] for row in detected} >= {"spiral", "edge-on disk"}
    sizes = {
        row["object_id"]: (row["width"], row["height"])
        for table in ("balanced_images", CURATED_TABLE)
        for row in measured.read(table, "p", ["object_id", "width", "height"]).to_pylist()
    }
    assert max(sizes.values()) > (48, 48)  # real SDSS cutouts among the renders
    for row in detected:
        width, height = sizes[row["object_id"]]
        assert row["region_texts"][0] == "the whole galaxy"
        for x0, y0, x1, y1 in row["region_boxes"]:
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert 0 < row["r_half"] < width and 0 <= row["center_x"] < width


def test_only_missing_or_stale_measurements_are_measured_again(measured):
    lake = measured
    before_versions = lake.versions(MEASUREMENTS_TABLE, "p")
    again = measure_partition(lake, "p", workers=1)
    assert again.measured == 0 and again.reused == len(image_ids(lake, "p"))
    assert lake.versions(MEASUREMENTS_TABLE, "p") == before_versions  # nothing changed

    table = lake.read(MEASUREMENTS_TABLE, "p")
    rows = table.to_pylist()
    old_version, moved_frame = rows[1]["object_id"], rows[2]["object_id"]
    rows[1]["measurement_version"] = "0"
    rows[2]["frame"] = [0, 0, 40, 40]
    rows[3]["r_half"] = -1.0  # not stale: its version, image and frame are current
    lake.write_table(MEASUREMENTS_TABLE, "p", pa.Table.from_pylist(rows, MEASUREMENT_SCHEMA))
    images = lake.read("balanced_images", "p")
    pngs = images.column("image_png").to_pylist()
    pngs[0] = pngs[5]  # another galaxy's pixels under the first row's id and frame
    index = IMAGE_SCHEMA.get_field_index("image_png")
    replaced = images.set_column(index, "image_png", pa.array(pngs, pa.large_binary()))
    lake.write_table("balanced_images", "p", replaced)

    result = measure_partition(lake, "p", workers=1)
    assert (result.measured, result.reused) == (3, len(rows) - 3)
    after = _measurements(lake)
    assert after[old_version]["measurement_version"] == MEASUREMENT_VERSION
    assert after[moved_frame]["frame"] == images.column("frame")[2].as_py()
    assert after[rows[3]["object_id"]]["r_half"] == -1.0
    first = after[rows[0]["object_id"]]
    assert first["image_sha256"] == rows[5]["image_sha256"] != rows[0]["image_sha256"]
    assert first["r_half"] != rows[0]["r_half"]


def test_morphology_captions_are_phrased_from_measurements_without_pixels(measured):
    lake = measured
    measurement_versions = lake.versions(MEASUREMENTS_TABLE, "p")
    captioner = CountingMorphology(seed=0)
    first = caption_partition(lake, "p", captioner)
    rows = len(image_ids(lake, "p"))
    assert captioner.pixel_calls == 0 and captioner.phrased == rows
    table = _captions(lake)
    assert len(table) == rows and all(text.strip() for text in table["description"])
    assert (table["prompt_hash"] == captioner.info.prompt_hash).all()

    same = caption_partition(lake, "p", CountingMorphology(seed=0))
    assert (same.captioned, same.reused) == (0, rows)
    assert first.captioned == rows

    reseeded = caption_partition(lake, "p", CountingMorphology(seed=3))
    assert reseeded.captioned == rows  # every row now carries the new seed's prompt hash
    changed = _captions(lake)["description"] != table["description"]
    assert changed.sum() >= rows // 2
    assert lake.versions(MEASUREMENTS_TABLE, "p") == measurement_versions  # nothing re-measured


def test_regions_are_the_measured_boxes(measured):
    regions_partition(measured, "p")
    stored = _measurements(measured)
    for row in measured.read(REGIONS_TABLE, "p").to_pylist():
        assert row["boxes"] == stored[row["object_id"]]["region_boxes"]
        assert row["texts"] == stored[row["object_id"]]["region_texts"]


def test_captions_and_regions_need_current_measurements(lake, tmp_path):
    copy = Lake(str(tmp_path))
    for table in ("balanced_images", CURATED_TABLE):
        copy.write_table(table, "p", lake.read(table, "p"))
    with pytest.raises(FileNotFoundError, match="materialize the `measurements` asset"):
        caption_partition(copy, "p", MorphologyCaptioner())
    rows = lake.read(MEASUREMENTS_TABLE, "p").to_pylist()
    rows[0]["measurement_version"] = "0"
    copy.write_table(MEASUREMENTS_TABLE, "p", pa.Table.from_pylist(rows[:-1], MEASUREMENT_SCHEMA))
    with pytest.raises(ValueError, match="1 images have no measurement and 1 were measured"):
        regions_partition(copy, "p")


def test_pixel_captioners_caption_only_stale_rows(lake):
    captioner = PixelCaptioner("1.0")
    result = caption_partition(lake, "p", captioner, batch_size=8)
    table = _captions(lake)
    balanced = lake.count_rows("balanced_images", "p")
    held_out = (lake.read(CURATED_TABLE, "p").column("split").to_numpy() != "train").sum()
    assert (result.captioned, result.reused) == (balanced + held_out, 0)
    assert captioner.calls == len(table) == balanced + held_out
    assert (table["captioner_version"] == "1.0").all()

    stored = lake.read(CAPTIONS_TABLE, "p")
    stale_ids = set(stored.column("object_id").to_pylist()[::3])
    versions = [
        "0.9" if oid in stale_ids else "1.0" for oid in stored.column("object_id").to_pylist()
    ]
    index = CAPTION_SCHEMA.get_field_index("captioner_version")
    lake.write_table(
        CAPTIONS_TABLE, "p", stored.set_column(index, "captioner_version", pa.array(versions))
    )
    before = _captions(lake)
    again = PixelCaptioner("1.0")
    result = caption_partition(lake, "p", again)
    after = _captions(lake)
    assert again.calls == result.captioned == len(stale_ids)
    assert result.reused == len(after) - len(stale_ids)
    untouched = after.index.difference(sorted(stale_ids))
    pd.testing.assert_frame_equal(after.loc[untouched], before.loc[untouched])

    current = PixelCaptioner("1.0")
    assert caption_partition(lake, "p", current).captioned == 0 and current.calls == 0


def _reencoded(table: pa.Table, level: int) -> pa.Table:
    """``table`` with every PNG encoded again at zlib ``level``: other bytes, the same pixels."""
    pngs = [encode_png(decode_png(png), level) for png in table.column("image_png").to_pylist()]
    index = table.schema.get_field_index("image_png")
    return table.set_column(index, "image_png", pa.array(pngs, pa.large_binary()))


def test_phrasings_follow_the_pixels_not_their_encoding(measured, tmp_path):
    copy = Lake(str(tmp_path))
    for table in ("balanced_images", CURATED_TABLE):
        copy.write_table(table, "p", _reencoded(measured.read(table, "p"), level=9))
    result = measure_partition(copy, "p", workers=1)
    rows = len(image_ids(measured, "p"))
    assert (result.measured, result.reused) == (rows, 0)  # new bytes: measured again
    before, after = _measurements(measured), _measurements(copy)
    assert all(after[i]["image_sha256"] != before[i]["image_sha256"] for i in before)
    assert all(after[i]["pixels_sha256"] == before[i]["pixels_sha256"] for i in before)
    captioner = MorphologyCaptioner(seed=2)
    ordered = list(before)
    assert captioner.caption_measurements([after[i] for i in ordered]) == (
        captioner.caption_measurements([before[i] for i in ordered])
    )
