"""FolderSource on the real Galaxy Zoo folder and on small folders built in tmp_path."""

from __future__ import annotations

import gzip
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cosmoalign.imaging import decode_payload, encode_png
from cosmoalign.sources.base import UNLABELLED, Source
from cosmoalign.sources.local import FolderSource

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SPIRALS = DATA / "gz-kaggle-spirals"
DECALS = DATA / "decals-fits"


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(np.zeros((4, 4, 3), np.uint8)))
    return path


@pytest.mark.skipif(not SPIRALS.is_dir(), reason=f"real data not found at {SPIRALS}")
def test_gz_spirals_classes_and_counts_match_the_folders() -> None:
    source: Source = FolderSource(SPIRALS)
    assert source.class_names() == ["non_spirals", "spirals"]
    items = list(source.iter_items())
    expected = Counter(p.parent.name for p in SPIRALS.glob("*/*/*.jpg"))
    assert Counter(item.label_name for item in items) == expected
    assert len({item.object_id for item in items}) == len(items) == sum(expected.values())
    first = items[0]
    relative = Path(first.source_file).relative_to(SPIRALS).with_suffix("")
    assert first.object_id == f"local-{relative.as_posix()}"
    assert first.payload == Path(first.source_file).read_bytes()
    assert (first.payload_format, first.bands, first.error) == ("jpeg", "rgb", None)
    assert first.label == source.class_names().index(first.label_name)
    assert [i.object_id for i in items] == sorted(i.object_id for i in items)


@pytest.mark.skipif(not DECALS.is_dir(), reason=f"real data not found at {DECALS}")
def test_fits_bands_from_header_and_gzip(tmp_path: Path) -> None:
    shutil.copy(DECALS / "example_b.fits", tmp_path / "b.fits")
    (tmp_path / "c.fits.gz").write_bytes(gzip.compress((DECALS / "example_b.fits").read_bytes()))
    (tmp_path / "broken.fits").write_bytes(b"not a fits file")
    items = {i.object_id: i for i in FolderSource(tmp_path, name="d").iter_items()}
    assert set(items) == {"d-b", "d-c", "d-broken"}
    assert items["d-b"].bands == items["d-c"].bands == "grz"
    assert items["d-c"].payload == items["d-b"].payload
    assert decode_payload(items["d-c"].payload, "fits").shape[-1] == 3
    # corrupt content is curation's job: the item carries the bytes, no error
    assert (items["d-broken"].bands, items["d-broken"].error) == ("unknown", None)


def test_split_folders_are_skipped_and_ids_stay_unique(tmp_path: Path) -> None:
    _png(tmp_path / "train" / "Spiral Arms" / "x.png")
    _png(tmp_path / "test" / "spiral_arms" / "x.png")
    _png(tmp_path / "val" / "elliptical" / "y.PNG")
    _png(tmp_path / "loose.png")
    _png(tmp_path / ".hidden" / "z.png")
    (tmp_path / "notes.txt").write_text("ignored")
    source = FolderSource(tmp_path, class_names=["elliptical", "spiral arms"])
    items = {i.object_id: (i.label, i.label_name) for i in source.iter_items()}
    assert items == {
        "local-loose": (UNLABELLED, None),
        "local-test/spiral_arms/x": (1, "spiral arms"),
        "local-train/Spiral Arms/x": (1, "spiral arms"),
        "local-val/elliptical/y": (0, "elliptical"),
    }


def test_unreadable_file_becomes_an_error_item(tmp_path: Path) -> None:
    _png(tmp_path / "ok.png")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing-target.jpg")
    items = {i.object_id: i for i in FolderSource(tmp_path).iter_items()}
    assert items["local-ok"].error is None
    assert items["local-gone"].payload == b""
    assert "gone.jpg" in items["local-gone"].error


def test_missing_root_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        FolderSource(tmp_path / "nowhere")


def test_csv_labels_by_path_stem_name_or_id(tmp_path: Path) -> None:
    for name in ("a/one.png", "b/two.png", "three.png", "four.png"):
        _png(tmp_path / "imgs" / name)
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\na/one.png,star\nb/two,galaxy\nthree,1\nfour,\n")
    source = FolderSource(tmp_path / "imgs", labels_csv=labels, class_names=["galaxy", "star"])
    got = {i.object_id: i.label_name for i in source.iter_items()}
    assert got == {
        "local-a/one": "star",
        "local-b/two": "galaxy",
        "local-three": "star",
        "local-four": None,
    }


@pytest.mark.parametrize(
    ("rows", "class_names", "labels"),
    [
        ("p,2\nq,0\n", ["0", "1", "2"], {"local-p": 2, "local-q": 0}),
        ("p,star\nq,galaxy\n", ["galaxy", "star"], {"local-p": 1, "local-q": 0}),
    ],
)
def test_csv_class_names_derived_from_labels(
    tmp_path: Path, rows: str, class_names: list[str], labels: dict[str, int]
) -> None:
    _png(tmp_path / "p.png")
    _png(tmp_path / "q.png")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("id,label\n" + rows)
    source = FolderSource(tmp_path, labels_csv=csv_path)
    assert source.class_names() == class_names
    assert {i.object_id: i.label for i in source.iter_items()} == labels


@pytest.mark.parametrize(
    ("rows", "line", "field", "why"),
    [
        ("a,galaxy\nmissing,galaxy\n", 3, "id", "no such image file"),
        ("a,galaxy\nb,comet\n", 3, "label", "unknown label 'comet'"),
        ("a,galaxy\nb,5\n", 3, "label", "unknown label '5'"),
        ("a,galaxy\na.png,galaxy\n", 3, "id", "already labelled on line 2"),
        ("x,galaxy\n", 2, "id", "ambiguous"),
    ],
)
def test_bad_csv_row_names_path_line_and_field(
    tmp_path: Path, rows: str, line: int, field: str, why: str
) -> None:
    for name in ("a.png", "b.png", "s1/x.png", "s2/x.png"):
        _png(tmp_path / name)
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n" + rows)
    with pytest.raises(ValueError) as caught:
        FolderSource(tmp_path, labels_csv=labels, class_names=["galaxy", "star"])
    message = str(caught.value)
    assert str(labels) in message
    assert f"line {line}" in message
    assert f"field {field!r}" in message
    assert why in message


def test_csv_without_label_column_is_rejected(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("id,class\n")
    with pytest.raises(ValueError, match=r"labels\.csv: missing column\(s\) \['label'\]"):
        FolderSource(tmp_path, labels_csv=labels)


def test_a_link_inside_the_folder_is_read_and_one_leading_out_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    target = _png(folder / "sub" / "a.png")
    (folder / "alias.png").symlink_to(Path("sub") / "a.png")
    (folder / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    _png(tmp_path / "elsewhere" / "b.png")
    items = {i.object_id: i for i in FolderSource(folder).iter_items()}
    assert set(items) == {"local-alias", "local-sub/a"}  # a linked folder is not walked
    assert items["local-alias"].payload == target.read_bytes() and not items["local-alias"].error


def test_the_size_cap_applies_to_files_and_to_gzip_contents(tmp_path: Path) -> None:
    _png(tmp_path / "small.png")
    (tmp_path / "big.png").write_bytes(b"\x89PNG" + bytes(5000))
    (tmp_path / "bomb.fits.gz").write_bytes(gzip.compress(bytes(50_000)))
    items = {i.object_id: i for i in FolderSource(tmp_path, max_file_bytes=4096).iter_items()}
    assert items["local-small"].error is None
    assert "5004 bytes, over the cap of 4096" in items["local-big"].error
    assert "unpacks to more than the cap of 4096 bytes" in items["local-bomb"].error
    assert items["local-big"].payload == items["local-bomb"].payload == b""
