"""Evaluation sets from a local folder, and the class prompts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

import cosmoalign.evaluate.data as data
from cosmoalign.evaluate.data import (
    PROMPT_TEMPLATES,
    class_prompts,
    from_folder,
    load_prompt_mapping,
)
from cosmoalign.imaging import decode_png, encode_png


def write_png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    path.write_bytes(encode_png(pixels))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i in range(3):
        write_png(tmp_path / "imgs" / f"spiral{i}.png", i)
        write_png(tmp_path / "imgs" / f"smooth{i}.png", 10 + i)
    return tmp_path / "imgs"


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_labels_csv_gives_classes_and_labels(folder: Path, tmp_path: Path) -> None:
    rows = "".join(f"spiral{i}.png,spiral\nsmooth{i}.png,smooth\n" for i in range(3))
    labels = write_csv(tmp_path / "labels.csv", "path,label\n" + rows)

    evalset = from_folder(folder, labels)

    assert evalset.class_names == ["smooth", "spiral"]
    assert evalset.labels.tolist() == [1, 0] * 3
    assert evalset.object_ids[:2] == ["spiral0.png", "smooth0.png"]
    assert evalset.captions is None
    height, width, _ = decode_png(evalset.images[0]).shape  # framed: a square inside the image
    assert height == width <= 20
    whole = from_folder(folder, labels, framing=False).images[0]
    assert np.array_equal(decode_png(whole), decode_png((folder / "spiral0.png").read_bytes()))
    assert len(evalset.prompts) == 2


def test_integer_labels_name_classes_by_id(folder: Path, tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "labels.csv", "path,label\nspiral0.png,2\nsmooth0.png,0\n")
    evalset = from_folder(folder, labels)
    assert evalset.class_names == ["0", "1", "2"]
    assert evalset.labels.tolist() == [2, 0]


def test_missing_image_error_names_the_row(folder: Path, tmp_path: Path) -> None:
    labels = write_csv(
        tmp_path / "labels.csv", "path,label\nspiral0.png,spiral\nnowhere.png,smooth\n"
    )
    with pytest.raises(FileNotFoundError, match=r"labels\.csv, row on line 3.*nowhere\.png"):
        from_folder(folder, labels)


def test_missing_column_is_named(folder: Path, tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "labels.csv", "id,label\nspiral0.png,spiral\n")
    with pytest.raises(ValueError, match=r"labels\.csv: missing column\(s\) \['path'\]"):
        from_folder(folder, labels)


def test_class_folders_render_fits_with_lupton_rgb(tmp_path: Path) -> None:
    write_png(tmp_path / "train" / "spirals" / "a.png", 0)
    write_png(tmp_path / "train" / "non_spirals" / "b.png", 1)
    (tmp_path / "validation" / "spirals").mkdir(parents=True)
    flux = np.random.default_rng(2).gamma(2.0, 1.0, (3, 24, 24)).astype(np.float32)
    fits.PrimaryHDU(flux).writeto(tmp_path / "validation" / "spirals" / "c.fits")
    write_png(tmp_path / "loose.png", 3)  # in no class folder: left out

    evalset = from_folder(tmp_path, framing=False)

    assert evalset.class_names == ["non_spirals", "spirals"]
    assert evalset.labels.tolist() == [0, 1, 1]
    assert decode_png(evalset.images[2]).shape == (24, 24, 3)


def test_folder_images_are_cropped_to_their_galaxy_frame(tmp_path: Path) -> None:
    field = np.zeros((96, 96, 3), np.uint8)
    yy, xx = np.mgrid[:96, :96]
    field[..., :] = (200 * np.exp(-((xx - 60) ** 2 + (yy - 40) ** 2) / 30.0))[..., None]
    field += np.random.default_rng(0).integers(0, 6, field.shape, dtype=np.uint8)
    Image.fromarray(field).save(tmp_path / "galaxy.png")
    (tmp_path / "spirals").mkdir()
    (tmp_path / "galaxy.png").rename(tmp_path / "spirals" / "galaxy.png")

    framed = decode_png(from_folder(tmp_path).images[0])

    assert framed.shape[0] == framed.shape[1] < 60
    assert np.unravel_index(framed.sum(-1).argmax(), framed.shape[:2]) == pytest.approx(
        (framed.shape[0] / 2, framed.shape[1] / 2), abs=3
    )


@pytest.fixture
def labels_csv(tmp_path: Path) -> Path:
    rows = "".join(f"spiral{i}.png,spiral\nsmooth{i}.png,smooth\n" for i in range(3))
    return write_csv(tmp_path / "labels.csv", "path,label\n" + rows)


def count_renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Where each image :func:`display_png` renders from now on comes from."""
    rendered: list[str] = []
    display_png = data.display_png

    def counted(payload: bytes, payload_format: str, bands: str, where: str, framing: bool):
        rendered.append(where)
        return display_png(payload, payload_format, bands, where, framing)

    monkeypatch.setattr(data, "display_png", counted)
    return rendered


def test_rendered_images_are_cached_and_keyed_by_the_files(
    folder: Path, labels_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    rendered = count_renders(monkeypatch)
    first = from_folder(folder, labels_csv, cache_dir=cache)
    assert len(rendered) == 6 and len(list(cache.glob("*.render.npz"))) == 1

    again = from_folder(folder, labels_csv, cache_dir=cache)
    assert len(rendered) == 6  # read from the cache
    assert again.images == first.images == from_folder(folder, labels_csv).images
    assert len(rendered) == 12  # the uncached load renders

    write_png(folder / "smooth1.png", 99)
    changed = from_folder(folder, labels_csv, cache_dir=cache)
    assert len(rendered) == 18 and len(list(cache.glob("*.render.npz"))) == 2
    assert [a == b for a, b in zip(changed.images, first.images, strict=True)] == [
        True, True, True, False, True, True
    ]  # fmt: skip
    whole = from_folder(folder, labels_csv, framing=False, cache_dir=cache)
    assert len(rendered) == 24 and whole.images[0] != changed.images[0]


def test_class_folders_are_rendered_once_per_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_png(tmp_path / "set" / "spirals" / "a.png", 0)
    write_png(tmp_path / "set" / "non_spirals" / "b.png", 1)
    rendered = count_renders(monkeypatch)
    first = from_folder(tmp_path / "set", cache_dir=tmp_path / "cache")
    again = from_folder(tmp_path / "set", cache_dir=tmp_path / "cache")
    assert len(rendered) == 2 and again.images == first.images


@pytest.mark.parametrize(
    "damage",
    [
        lambda stored: b"",
        lambda stored: stored[: len(stored) // 2],
        lambda stored: stored[:300] + bytes([stored[300] ^ 1]) + stored[301:],
    ],
    ids=["empty", "truncated", "flipped bit"],
)
def test_unreadable_render_cache_is_rendered_again(
    folder: Path, labels_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage
) -> None:
    cache = tmp_path / "cache"
    first = from_folder(folder, labels_csv, cache_dir=cache)
    [stored] = cache.glob("*.render.npz")
    stored.write_bytes(damage(stored.read_bytes()))
    rendered = count_renders(monkeypatch)

    assert from_folder(folder, labels_csv, cache_dir=cache).images == first.images
    assert len(rendered) == 6
    assert from_folder(folder, labels_csv, cache_dir=cache).images == first.images
    assert len(rendered) == 6  # the damaged file was replaced


def test_prompt_mapping_replaces_class_text() -> None:
    prompts = class_prompts(["spirals", "non_spirals"], {"non_spirals": "smooth or featureless"})

    assert len(prompts) == 2 and all(len(p) == len(PROMPT_TEMPLATES) > 3 for p in prompts)
    assert prompts[0][0] == "an image of a spirals galaxy"
    assert all("smooth or featureless" in p for p in prompts[1])
    assert class_prompts(["non_spirals"])[0][0] == "an image of a non spirals galaxy"


def test_prompt_mapping_loads_from_json_and_csv(tmp_path: Path) -> None:
    as_json = tmp_path / "prompts.json"
    as_json.write_text(json.dumps({"non_spirals": "smooth or featureless"}))
    as_csv = write_csv(tmp_path / "prompts.csv", "name,prompt\nnon_spirals,smooth or featureless\n")

    assert load_prompt_mapping(as_json) == load_prompt_mapping(as_csv)
    assert class_prompts(["non_spirals"], as_csv) == class_prompts(["non_spirals"], as_json)


def test_prompt_mapping_rejects_unknown_classes() -> None:
    with pytest.raises(ValueError, match="unknown classes \\['spiral'\\]"):
        class_prompts(["spirals"], {"spiral": "a spiral"})
