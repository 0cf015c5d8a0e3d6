"""The training-pairs join: every captioned image once, with its caption, symbol and regions."""

import pyarrow as pa
import pytest

from cosmoalign.pairs import build_pairs, normalise_box
from cosmoalign.schema import CAPTION_SCHEMA, CAPTIONS_TABLE, CURATED_TABLE, PAIRS_TABLE
from tests.fixtures.pairs_lake import build_pairs_lake


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_pairs_lake(str(tmp_path_factory.mktemp("lake")))


def test_pairs_cover_balanced_train_and_held_out_rows(built):
    lake, result = built
    pairs = lake.read(PAIRS_TABLE, "p").to_pandas()
    held_out = (lake.read(CURATED_TABLE, "p").column("split").to_numpy() != "train").sum()
    assert len(pairs) == lake.count_rows("balanced_images", "p") + held_out
    assert result.uncaptioned == [] and result.without_symbol == 0
    captions = lake.read(CAPTIONS_TABLE, "p").to_pandas().set_index("object_id")["caption"]
    assert (pairs.set_index("object_id")["caption"] == captions.loc[pairs["object_id"]]).all()
    assert pairs["symbol_key"].notna().all()
    assert {split: sum(c.values()) for split, c in result.per_split.items()} == (
        pairs["split"].value_counts().to_dict()
    )


def test_region_boxes_are_normalised_and_paired_with_texts(built):
    lake, _ = built
    pairs = lake.read(PAIRS_TABLE, "p").to_pylist()
    assert any(row["region_boxes"] for row in pairs)
    for row in pairs:
        assert len(row["region_boxes"]) == len(row["region_texts"])
        for x0, y0, x1, y1 in row["region_boxes"]:
            assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0


def test_images_without_caption_are_left_out_and_named(built, tmp_path):
    lake, _ = built
    captions = lake.read(CAPTIONS_TABLE, "p")
    dropped = captions.column("object_id")[0].as_py()
    lake.write_table(CAPTIONS_TABLE, "p", captions.slice(1).cast(CAPTION_SCHEMA))
    try:
        result = build_pairs(lake, "p")
        assert result.uncaptioned == [dropped]
        assert dropped not in lake.read(PAIRS_TABLE, "p").column("object_id").to_pylist()
    finally:
        lake.write_table(CAPTIONS_TABLE, "p", pa.Table.from_batches(captions.to_batches()))
        build_pairs(lake, "p")


def test_normalise_box_divides_by_size_and_clips():
    assert normalise_box([0, 16, 32, 64], 64, 64) == [0.0, 0.25, 0.5, 1.0]
    assert normalise_box([-4, 0, 80, 32], 64, 32) == [0.0, 0.0, 1.0, 1.0]
