"""FLARE balancing: train only, target counts, stable downsampling, traceable augmented copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cosmoalign.balance as balance
from cosmoalign.augment import SkyAugmenter
from cosmoalign.balance import BalanceConfig, augmented_id, balance_train_split, stable_rank
from cosmoalign.imaging import decode_png, encode_png


def _row(object_id: str, split: str, label: int, name: str | None) -> dict:
    seed = stable_rank(object_id) % 2**32
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return {
        "object_id": object_id,
        "source": "test",
        "split": split,
        "label": label,
        "label_name": name,
        "ra": 150.0,
        "dec": 2.0,
        "image_png": encode_png(pixels),
        "width": 16,
        "height": 16,
        "frame": [0, 0, 16, 16],
        "bands": "rgb",
        "provenance": "original",
    }


@pytest.fixture
def images() -> pd.DataFrame:
    """Train: 12 galaxies, 5 stars, 2 comets, 3 unlabelled; plus val/test rows of each class."""
    rows = [_row(f"g{i}", "train", 0, "galaxy") for i in range(12)]
    rows += [_row(f"s{i}", "train", 1, "star") for i in range(5)]
    rows += [_row(f"c{i}", "train", 2, "comet") for i in range(2)]
    rows += [_row(f"u{i}", "train", -1, None) for i in range(3)]
    rows += [_row(f"v{i}", "validation", i % 3, "x") for i in range(4)]
    rows += [_row(f"t{i}", "test", 2, "comet") for i in range(3)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3)  # order must not matter


def test_default_target_is_the_median_and_every_class_reaches_it(images: pd.DataFrame) -> None:
    balanced, report = balance_train_split(images)
    labelled = balanced[balanced["label"] >= 0]
    assert report.target == 5
    assert labelled["label"].value_counts().to_dict() == {0: 5, 1: 5, 2: 5}
    assert report.counts_before == {"galaxy": 12, "star": 5, "comet": 2}
    assert report.counts_after == {"galaxy": 5, "star": 5, "comet": 5}
    assert (report.n_augmented, report.n_dropped, report.n_unlabelled) == (3, 7, 3)
    assert report.augmenter == "sky"


def test_only_train_rows_and_copies_of_train_objects(images: pd.DataFrame) -> None:
    balanced, _ = balance_train_split(images, config=BalanceConfig(target_per_class=8))
    train_ids = set(images.loc[images["split"] == "train", "object_id"])
    assert set(balanced["split"]) == {"train"}
    originals = balanced[balanced["provenance"] == "original"]
    copies = balanced[balanced["provenance"] != "original"]
    assert set(originals["object_id"]) <= train_ids
    assert len(copies) == 3 + 6
    for copy in copies.itertuples():
        source_id = copy.provenance.removeprefix("augmented-from:")
        source = images.set_index("object_id").loc[source_id]
        assert source["split"] == "train"
        assert copy.object_id.startswith(f"{source_id}~aug")
        assert (copy.label, copy.label_name) == (source["label"], source["label_name"])
        assert (copy.ra, copy.bands, copy.source) == (150.0, "rgb", "test")
        assert decode_png(copy.image_png).shape == (copy.height, copy.width, 3)
        assert copy.image_png != source["image_png"]
    # each comet has three copies (2 originals + 6 = 8), numbered from 1
    comet_copies = sorted(copies.loc[copies["label"] == 2, "object_id"])
    assert comet_copies == sorted(augmented_id(f"c{i}", k) for i in range(2) for k in (1, 2, 3))
    assert balanced["object_id"].is_unique


def test_downsampling_keeps_the_smallest_ranks(images: pd.DataFrame) -> None:
    balanced, _ = balance_train_split(images, config=BalanceConfig(seed=4))
    kept = set(balanced.loc[balanced["label"] == 0, "object_id"])
    expected = sorted((f"g{i}" for i in range(12)), key=lambda oid: stable_rank(oid, 4))[:5]
    assert kept == set(expected)


def test_adding_data_never_brings_back_a_dropped_row(images: pd.DataFrame) -> None:
    config = BalanceConfig(target_per_class=5)
    before, _ = balance_train_split(images, config=config)
    new_rows = pd.DataFrame([_row(f"g{i}", "train", 0, "galaxy") for i in range(12, 20)])
    after, _ = balance_train_split(pd.concat([images, new_rows]), config=config)
    kept_before = set(before.loc[before["label"] == 0, "object_id"])
    kept_after = set(after.loc[after["label"] == 0, "object_id"])
    assert kept_after - set(new_rows["object_id"]) <= kept_before


def test_same_input_gives_identical_output(images: pd.DataFrame) -> None:
    config = BalanceConfig(target_per_class=6, seed=11)
    first, first_report = balance_train_split(images, SkyAugmenter(), config)
    second, second_report = balance_train_split(images.copy(), SkyAugmenter(), config)
    pd.testing.assert_frame_equal(first, second)
    assert first_report == second_report
    other_seed, _ = balance_train_split(images, SkyAugmenter(), BalanceConfig(6, seed=12))
    copies = first["provenance"] != "original"
    assert list(first.loc[copies, "image_png"]) != list(other_seed.loc[copies, "image_png"])


def test_unlabelled_rows_pass_through_unchanged(images: pd.DataFrame) -> None:
    balanced, _ = balance_train_split(images)
    unlabelled = images[images["label"] < 0].reset_index(drop=True)
    passed = balanced[balanced["label"] < 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(passed, unlabelled)


def test_upsampling_is_capped_by_the_factor(images: pd.DataFrame) -> None:
    config = BalanceConfig(target_per_class=12, max_upsample_factor=2.0)
    _, report = balance_train_split(images, config=config)
    assert report.counts_after == {"galaxy": 12, "star": 10, "comet": 4}


def test_only_augmented_images_are_decoded(
    images: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[bytes] = []

    def counting_decode(data: bytes) -> np.ndarray:
        decoded.append(data)
        return decode_png(data)

    monkeypatch.setattr(balance, "decode_png", counting_decode)
    _, report = balance_train_split(images)
    assert len(decoded) == report.n_augmented == 3


def test_missing_columns_are_named(images: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="provenance"):
        balance_train_split(images.drop(columns=["provenance"]))


def test_balance_dataset_writes_the_lake_table_and_reports_a_held_out_object_in_train(
    images: pd.DataFrame, tmp_path
) -> None:
    import pyarrow as pa

    from cosmoalign.ingest import balance_dataset
    from cosmoalign.lake import Lake
    from cosmoalign.schema import BALANCED_TABLE, CURATED_TABLE, IMAGE_SCHEMA

    lake = Lake(str(tmp_path))
    leaking = pd.concat([images, pd.DataFrame([_row("t0", "train", 2, "comet")])])
    lake.write_table(
        CURATED_TABLE, "d", pa.Table.from_pandas(leaking, IMAGE_SCHEMA, preserve_index=False)
    )
    result = balance_dataset(lake, "d", BalanceConfig(), SkyAugmenter())
    assert result.leaked_ids == ["t0"]  # in test, and (or a copy of it) in train
    assert result.largest_over_smallest == 1.0 and result.shards == 1
    assert lake.count_rows(BALANCED_TABLE, "d") == result.table.num_rows == result.summary.rows
