"""Shards: keys, membership by HEALPix pixel or id slice, plans, and reading across shards."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from cosmoalign.balance import augmented_id
from cosmoalign.lake import Lake
from cosmoalign.shards import (
    Shard,
    ShardSource,
    dataset_partitions,
    healpix_pixel,
    iter_dataset_batches,
    read_dataset,
    shard_keys,
    shard_plan,
    write_shard_plan,
    write_to_shards,
)
from cosmoalign.sources.base import RawItem


def _item(object_id: str, ra: float | None = None, dec: float | None = None) -> RawItem:
    return RawItem(object_id, "test", b"", "png", f"{object_id}.png", ra=ra, dec=dec)


class _ListSource:
    name = "test"

    def __init__(self, items: list[RawItem]) -> None:
        self.items = items

    def class_names(self) -> list[str]:
        return ["smooth", "spiral"]

    def iter_items(self):
        return iter(self.items)


def test_keys_round_trip_and_bad_keys_are_named():
    assert Shard.parse("hpx3-417") == Shard("hpx", 3, 417)
    assert Shard.parse("ids8-0").key == "ids8-0"
    for bad in ("hpx3", "ids0-0", "ids8-8", "hpx0-12", "hpx13-0", "box4-1"):
        with pytest.raises(ValueError, match=r"shard|HEALPix|slice|count"):
            Shard.parse(bad)


def test_healpix_pixels_follow_the_nested_scheme():
    # order 0: the north-polar base pixels are 0-3 (by longitude), equatorial 4-7, south 8-11
    assert healpix_pixel(45.0, 60.0, 0) == 0
    assert healpix_pixel(0.0, 0.0, 0) == 4
    assert healpix_pixel(45.0, -60.0, 0) == 8
    # nested: a child pixel at order 2 lies inside its order-0 parent (index // 16)
    rng = np.random.default_rng(0)
    for ra, dec in zip(rng.uniform(0, 360, 50), rng.uniform(-89, 89, 50), strict=True):
        assert healpix_pixel(ra, dec, 2) // 16 == healpix_pixel(ra, dec, 0)


def test_shards_cut_a_source_into_disjoint_parts_that_cover_it():
    rng = np.random.default_rng(1)
    items = [_item(f"g{i}", *rng.uniform((0, -80), (360, 80))) for i in range(400)]
    source = _ListSource(items)
    for scheme, level in (("ids", 8), ("hpx", 1)):
        keys = shard_keys(source.iter_items(), scheme, level)
        parts = [
            [item.object_id for item in ShardSource(source, Shard.parse(key)).iter_items()]
            for key in keys
        ]
        ids = [object_id for part in parts for object_id in part]
        assert sorted(ids) == sorted(item.object_id for item in items)  # each item exactly once
        assert all(parts), f"{scheme}: every planned shard holds items"
    assert len(shard_keys(items, "ids", 8)) == 8
    assert len(shard_keys(items, "hpx", 1)) <= 48
    assert ShardSource(source, Shard("ids", 8, 0)).class_names() == ["smooth", "spiral"]


def test_an_item_without_a_position_has_no_healpix_shard():
    with pytest.raises(ValueError, match=r"nowhere-7 \(nowhere-7.png\) has no sky position"):
        Shard("hpx", 2, 0).contains(_item("nowhere-7"))
    assert Shard("ids", 4, 0).contains(_item("nowhere-7")) in (True, False)


def _images(ids: list[str]) -> pa.Table:
    return pa.table({"object_id": ids, "label": list(range(len(ids)))})


def test_a_dataset_reads_every_shard_of_its_plan_and_writes_rows_home(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    assert dataset_partitions(lake, "survey") == ["survey"]  # no plan: one partition
    write_shard_plan(lake, "survey", ["ids2-0", "ids2-1"])
    assert shard_plan(lake, "survey") == ["ids2-0", "ids2-1"]
    assert dataset_partitions(lake, "survey") == ["survey.ids2-0", "survey.ids2-1"]
    lake.write_table("curated_images", "survey.ids2-0", _images(["a", "b"]))
    lake.write_table("curated_images", "survey.ids2-1", _images(["c"]))
    assert read_dataset(lake, "curated_images", "survey").column("object_id").to_pylist() == [
        "a",
        "b",
        "c",
    ]
    streamed = iter_dataset_batches(lake, "curated_images", "survey", ["object_id"], 1)
    assert [b.column(0)[0].as_py() for b in streamed] == ["a", "b", "c"]

    balanced = _images(["b", augmented_id("c", 1), augmented_id("c", 2), "a"])
    summary = write_to_shards(lake, "balanced_images", "survey", balanced, "curated_images")
    assert summary.rows == 4
    first = lake.read("balanced_images", "survey.ids2-0").column("object_id").to_pylist()
    second = lake.read("balanced_images", "survey.ids2-1").column("object_id").to_pylist()
    assert (first, second) == (["b", "a"], ["c~aug1", "c~aug2"])
    again = write_to_shards(lake, "balanced_images", "survey", balanced, "curated_images")
    assert again.content_hash == summary.content_hash  # a data version independent of versions

    write_shard_plan(lake, "survey", [])  # an empty plan makes it one partition again
    assert dataset_partitions(lake, "survey") == ["survey"]
    with pytest.raises(ValueError, match="not a shard key"):
        write_shard_plan(lake, "survey", ["nope"])


def test_the_command_line_lists_a_plan_as_backfill_partitions(tmp_path, capsys):
    from cosmoalign.shards import main

    lake = str(tmp_path / "lake")
    with pytest.raises(SystemExit, match="survey has no shard plan"):
        main(["survey", "--lake", lake])
    write_shard_plan(Lake(lake), "survey", ["hpx0-4", "hpx0-5"])
    main(["survey", "--lake", lake, "--backfill"])
    main(["survey", "--lake", lake])
    assert capsys.readouterr().out == "survey|hpx0-4,survey|hpx0-5\nhpx0-4\nhpx0-5\n"
