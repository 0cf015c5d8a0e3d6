"""An MLLM's feature list grounded in segmentation boxes, and fed into the regions table."""

import pyarrow as pa

from cosmoalign.captions.base import Region
from cosmoalign.captions.grounding import ground_features
from cosmoalign.captions.region_table import SEGMENTATION, regions_partition
from cosmoalign.schema import CAPTION_SCHEMA, CAPTIONS_TABLE, REGIONS_TABLE
from tests.fixtures.pairs_lake import build_pairs_lake

SEGMENTED = [
    Region((0, 0, 64, 64), "the whole galaxy", 0.8),
    Region((28, 28, 36, 36), "the bright central bulge", 0.4),
    Region((10, 20, 54, 44), "the outer disc", 0.6),
    Region((2, 2, 8, 8), "a foreground star", 0.9),
]


def test_named_features_take_over_the_boxes_they_describe():
    grounded = ground_features(SEGMENTED, ["a prominent bulge", "a faint star", "a tidal tail"])
    by_text = {r.text: r for r in grounded}
    assert by_text["a prominent bulge"].box == (28, 28, 36, 36)
    assert by_text["a faint star"].box == (2, 2, 8, 8)
    assert by_text["the outer disc"].box == (10, 20, 54, 44)  # not named: rule text kept
    # Nothing segmented matches a tail: anchored on the whole galaxy with half its score.
    assert by_text["a tidal tail"].box == (0, 0, 64, 64)
    assert by_text["a tidal tail"].score == 0.4
    assert len(grounded) == len(SEGMENTED) + 1


def test_each_box_is_grounded_once():
    grounded = ground_features(SEGMENTED, ["bright nucleus", "central bulge"])
    assert [r.text for r in grounded].count("bright nucleus") == 1
    assert grounded[1].text == "bright nucleus"
    assert grounded[-1] == Region((0, 0, 64, 64), "central bulge", 0.4)


def test_no_segmentation_means_no_regions():
    assert ground_features([], ["a bar"]) == []


def test_mllm_captions_feed_the_regions_table(tmp_path):
    lake, _ = build_pairs_lake(str(tmp_path), per_class=3)
    captions = lake.read(CAPTIONS_TABLE, "p").to_pylist()
    target = captions[0]["object_id"]
    captions[0] |= {
        "captioner": "mllm",
        "captioner_version": "tiny-1",
        "description": "A barred spiral. Features: a strong bar, loose spiral arms, a ring",
    }
    lake.write_table(CAPTIONS_TABLE, "p", pa.Table.from_pylist(captions, CAPTION_SCHEMA))
    regions_partition(lake, "p")
    rows = {row["object_id"]: row for row in lake.read(REGIONS_TABLE, "p").to_pylist()}
    assert rows[target]["method"] == f"{SEGMENTATION}+mllm-tiny-1"
    assert {"a strong bar", "loose spiral arms", "a ring"} <= set(rows[target]["texts"])
    others = [row for oid, row in rows.items() if oid != target]
    assert all(row["method"] == SEGMENTATION for row in others)
