"""The offline default source: procedural labelled galaxies, real HST cutouts, real SDSS."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from cosmoalign.imaging import decode_payload, to_rgb8
from cosmoalign.labels import GALAXY10_DECALS_CLASSES
from cosmoalign.sources.base import UNLABELLED, RawItem
from cosmoalign.sources.embedded import EmbeddedSource
from cosmoalign.sources.hst import hst_cutouts
from cosmoalign.sources.sdss_sample import sdss_sample_items

PER_CLASS = 3
MAX_HST = 6
MAX_REAL = 4


@pytest.fixture(scope="module")
def items() -> list[RawItem]:
    return list(
        EmbeddedSource(
            total=0, min_per_class=PER_CLASS, max_hst=MAX_HST, max_real=MAX_REAL
        ).iter_items()
    )


def _procedural(items: list[RawItem]) -> list[RawItem]:
    return [item for item in items if item.object_id.startswith("proc-")]


def _hst(items: list[RawItem]) -> list[RawItem]:
    return [item for item in items if item.object_id.startswith("hdf-")]


def _real(items: list[RawItem]) -> list[RawItem]:
    return [item for item in items if item.object_id.startswith("sdss-dr7-")]


def test_name_and_class_names() -> None:
    source = EmbeddedSource()
    assert source.name == "embedded"
    assert source.class_names() == GALAXY10_DECALS_CLASSES


def test_counts_and_class_coverage(items: list[RawItem]) -> None:
    procedural, hst, real = _procedural(items), _hst(items), _real(items)
    assert len(procedural) == PER_CLASS * len(GALAXY10_DECALS_CLASSES)
    assert len(hst) == MAX_HST and len(real) == MAX_REAL
    assert items == procedural + hst + real  # procedural first, then HST, then real SDSS
    counts = Counter(item.label for item in procedural)
    assert counts == {class_id: PER_CLASS for class_id in range(len(GALAXY10_DECALS_CLASSES))}
    assert all(GALAXY10_DECALS_CLASSES[item.label] == item.label_name for item in procedural)


def test_procedural_items(items: list[RawItem]) -> None:
    for item in _procedural(items):
        match = re.fullmatch(r"proc-s0-c(\d)-(\d{5})", item.object_id)
        assert match is not None
        class_id, index = int(match[1]), int(match[2])
        assert item.label == class_id
        assert item.source_file == f"procedural://seed=0/class={class_id}/index={index}"
        assert (item.source, item.payload_format, item.bands) == ("embedded", "npy", "grz")
        assert item.ra is None and item.dec is None and item.error is None
        image = decode_payload(item.payload, item.payload_format)
        assert image.shape == (128, 128, 3)
        assert image.dtype == np.float32
        rgb = to_rgb8(image, item.bands)
        assert rgb.dtype == np.uint8 and rgb.std() > 5


def test_hst_items(items: list[RawItem]) -> None:
    hst = _hst(items)
    for item in hst:
        assert re.fullmatch(r"hdf-x\d{4}-y\d{4}", item.object_id)
        x, y = re.fullmatch(r"hdf-x(\d+)-y(\d+)", item.object_id).groups()
        assert item.source_file == f"skimage://hubble_deep_field#x={int(x)},y={int(y)}"
        assert (item.source, item.payload_format, item.bands) == ("embedded", "npy", "rgb")
        assert (item.label, item.label_name) == (UNLABELLED, None)
        image = decode_payload(item.payload, item.payload_format)
        assert image.shape == (128, 128, 3)
        assert image.dtype == np.uint8
        centre = image[48:80, 48:80].astype(float).mean()
        assert centre > image.astype(float).mean() + 5  # a source sits in the middle
    assert len({item.payload for item in hst}) == len(hst)


def test_real_sdss_items(items: list[RawItem]) -> None:
    for item in _real(items):
        assert re.fullmatch(r"sdss-dr7-[0-9a-f]{16}", item.object_id)
        assert item.source_file.startswith("package://cosmoalign.data/sdss_dr7/sdss-")
        assert (item.source, item.payload_format, item.bands) == ("embedded", "jpeg", "gri")
        assert (item.label, item.label_name, item.error) == (UNLABELLED, None, None)
        image = decode_payload(item.payload, item.payload_format)
        assert image.shape == (192, 192, 3) and image.dtype == np.uint8
        centre = image[64:128, 64:128].astype(float).mean()
        assert centre > image.astype(float).mean()  # the galaxy sits in the central third


def test_shipped_sample_is_complete_and_small() -> None:
    folder = files("cosmoalign.data") / "sdss_dr7"
    with (folder / "MANIFEST.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2000 and len({row["source_sha256"] for row in rows}) == 2000
    assert sum(len((folder / row["file"]).read_bytes()) for row in rows) < 15 * 2**20
    assert "Licence" in (folder / "README.md").read_text()


def test_damaged_sample_file_becomes_an_error_item(tmp_path: Path) -> None:
    shipped = files("cosmoalign.data") / "sdss_dr7"
    with (shipped / "MANIFEST.csv").open() as handle:
        rows = list(csv.DictReader(handle))[:3]
    with (tmp_path / "MANIFEST.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        (tmp_path / row["file"]).write_bytes((shipped / row["file"]).read_bytes())
    (tmp_path / rows[1]["file"]).write_bytes(b"tampered")
    items = list(sdss_sample_items("embedded", folder=tmp_path))
    assert [item.error is None for item in items] == [True, False, True]
    assert "sha256 mismatch" in items[1].error and rows[1]["file"] in items[1].error
    assert items[1].payload == b""


def test_object_ids_unique(items: list[RawItem]) -> None:
    ids = [item.object_id for item in items]
    assert len(set(ids)) == len(ids)


def test_same_seed_same_bytes_other_seed_other_pixels(items: list[RawItem]) -> None:
    again = list(
        EmbeddedSource(
            total=0, min_per_class=PER_CLASS, max_hst=MAX_HST, max_real=MAX_REAL
        ).iter_items()
    )
    assert [(i.object_id, i.payload) for i in again] == [(i.object_id, i.payload) for i in items]
    other = _procedural(
        list(EmbeddedSource(total=0, min_per_class=PER_CLASS, seed=1, max_real=0).iter_items())
    )
    assert all(o.object_id.startswith("proc-s1-") for o in other)
    assert not {o.payload for o in other} & {i.payload for i in _procedural(items)}


def test_a_galaxy_does_not_depend_on_class_counts(items: list[RawItem]) -> None:
    fewer = EmbeddedSource(total=0, min_per_class=1, include_hst=False, max_real=0).iter_items()
    by_id = {item.object_id: item.payload for item in items}
    for item in fewer:
        assert by_id[item.object_id] == item.payload


def test_default_counts_follow_galaxy10_proportions() -> None:
    counts = EmbeddedSource().counts
    assert counts == [49, 84, 119, 91, 20, 92, 82, 119, 64, 84]
    assert counts.index(max(counts)) == GALAXY10_DECALS_CLASSES.index("round smooth")
    assert counts.index(min(counts)) == GALAXY10_DECALS_CLASSES.index("cigar shaped smooth")


def test_streams_lazily_and_classes_interleave() -> None:
    stream = EmbeddedSource(total=0, min_per_class=1000).iter_items()
    assert isinstance(stream, Iterator)
    first = [next(stream) for _ in range(12)]
    assert [item.label for item in first] == [*range(10), 0, 1]
    assert first[10].object_id == "proc-s0-c0-00001"


def test_options_size_and_no_hst() -> None:
    small = list(
        EmbeddedSource(
            total=0, min_per_class=1, size=64, include_hst=False, max_real=0
        ).iter_items()
    )
    assert len(small) == len(GALAXY10_DECALS_CLASSES)
    assert all(decode_payload(i.payload, "npy").shape == (64, 64, 3) for i in small)
    only_hst = list(
        EmbeddedSource(total=0, min_per_class=0, size=64, max_hst=3, max_real=0).iter_items()
    )
    assert [i.label for i in only_hst] == [UNLABELLED] * 3
    assert decode_payload(only_hst[0].payload, "npy").shape == (64, 64, 3)


@pytest.mark.parametrize(
    "kwargs",
    [{"total": -1}, {"min_per_class": -1}, {"seed": -1}, {"size": 8}, {"max_real": -1}],
)
def test_rejects_bad_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        EmbeddedSource(**kwargs)


def test_hst_detection_is_stable_and_plentiful() -> None:
    first = [c.object_id for c in hst_cutouts(size=32, max_items=20)]
    again = [c.object_id for c in hst_cutouts(size=32)]
    assert len(again) >= 200  # enough real cutouts for the default max_hst
    assert again[:20] == first
    assert len(set(again)) == len(again)
