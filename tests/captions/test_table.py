"""Captioning a partition, then recaptioning exactly the rows that went stale."""

import dataclasses

import pandas as pd
import pyarrow as pa
import pytest

from cosmoalign.balance import balance_train_split
from cosmoalign.captions.morphology import MorphologyCaptioner
from cosmoalign.captions.table import CAPTIONS_TABLE, caption_partition
from cosmoalign.ingest import CURATED_TABLE, curate_partition, ingest_source
from cosmoalign.lake import Lake
from cosmoalign.schema import CAPTION_SCHEMA, IMAGE_SCHEMA
from cosmoalign.sources.embedded import EmbeddedSource


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(str(tmp_path_factory.mktemp("lake")))
    source = EmbeddedSource(total=0, min_per_class=10, size=48, include_hst=False)
    ingest_source(source, lake, "p")
    curate_partition(lake, "p")
    curated = lake.read(CURATED_TABLE, "p").to_pandas()
    balanced, _ = balance_train_split(curated)
    lake.write_table(
        "balanced_images", "p", pa.Table.from_pandas(balanced, IMAGE_SCHEMA, preserve_index=False)
    )
    return lake


class CountingCaptioner(MorphologyCaptioner):
    """The morphology captioner, recording which images it was asked to caption."""

    def __init__(self, version: str = "1.0") -> None:
        super().__init__()
        self.info = dataclasses.replace(self.info, version=version)
        self.calls = 0

    def caption(self, images, labels=None):
        self.calls += len(images)
        return super().caption(images, labels)


def _captions(lake: Lake) -> pd.DataFrame:
    return lake.read(CAPTIONS_TABLE, "p").to_pandas().set_index("object_id")


def test_first_pass_captions_training_and_held_out_images(lake):
    captioner = CountingCaptioner()
    result = caption_partition(lake, "p", captioner, batch_size=8)
    table = _captions(lake)
    balanced = lake.count_rows("balanced_images", "p")
    held_out = (lake.read(CURATED_TABLE, "p").column("split").to_numpy() != "train").sum()
    assert (result.captioned, result.reused) == (balanced + held_out, 0)
    assert captioner.calls == len(table) == balanced + held_out
    assert set(table["split"]) == {"train", "val", "test"}
    assert (table["captioner_version"] == "1.0").all()
    assert all(text.strip() for text in table["description"])


def test_a_new_version_recaptions_exactly_the_stale_rows(lake):
    caption_partition(lake, "p", CountingCaptioner("1.0"))
    table = lake.read(CAPTIONS_TABLE, "p")
    stale_ids = set(table.column("object_id").to_pylist()[::3])
    versions = [
        "0.9" if oid in stale_ids else "1.0" for oid in table.column("object_id").to_pylist()
    ]
    index = CAPTION_SCHEMA.get_field_index("captioner_version")
    lake.write_table(
        CAPTIONS_TABLE, "p", table.set_column(index, "captioner_version", pa.array(versions))
    )
    before = _captions(lake)

    captioner = CountingCaptioner("1.0")
    result = caption_partition(lake, "p", captioner)

    after = _captions(lake)
    assert captioner.calls == result.captioned == len(stale_ids)
    assert result.reused == len(after) - len(stale_ids)
    assert (after["captioner_version"] == "1.0").all()
    untouched = after.index.difference(sorted(stale_ids))
    pd.testing.assert_frame_equal(after.loc[untouched], before.loc[untouched])


def test_nothing_is_recaptioned_when_everything_is_current_and_all_when_version_changes(lake):
    caption_partition(lake, "p", CountingCaptioner("1.0"))
    same = CountingCaptioner("1.0")
    assert caption_partition(lake, "p", same).captioned == 0 and same.calls == 0
    newer = CountingCaptioner("2.0")
    result = caption_partition(lake, "p", newer)
    assert result.reused == 0 and newer.calls == result.captioned == len(_captions(lake))
