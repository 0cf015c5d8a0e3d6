"""Evaluation sets: held-out lake rows or a user's folder of images, with class prompts."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL
import pyarrow.compute as pc

from cosmoalign.array_cache import cached_arrays
from cosmoalign.framing import crop, measure_frame, pixel_box
from cosmoalign.imaging import PASSED_ON, decode_payload, decode_png, encode_png, to_rgb8
from cosmoalign.lake import Lake
from cosmoalign.schema import PAIRS_TABLE
from cosmoalign.sources.local import FolderSource, fits_bands, split_suffix

PROMPT_TEMPLATES: tuple[str, ...] = (
    "an image of a {} galaxy",
    "a telescope image of a {}",
    "a DECaLS cutout of a {} galaxy",
    "an astronomical image of a {}",
    "a photo of a {} galaxy",
    "a survey image showing a {} galaxy",
)

LAKE_PREFIX = "lake:"
"""Names an evaluation set read from the lake (``lake:<root>:<partition>`` or ``lake:<name>``)."""
_INT = re.compile(r"[+-]?\d+")
RENDER_VERSION = 1
"""Part of the key of rendered folder images: bump it when :func:`display_png`'s output changes."""

PromptMapping = Mapping[str, str] | str | os.PathLike | None


@dataclass(frozen=True)
class ImageFile:
    """An image file as read, for :func:`display_png` to render; ``where`` names it in errors."""

    payload: bytes
    payload_format: str
    bands: str
    where: str


@dataclass(frozen=True)
class EvalSet:
    """Labelled images to evaluate on.

    ``images`` are encoded PNG/JPEG bytes (FITS already rendered to PNG), ``labels`` class
    indices into ``class_names``, ``captions`` one paired text per image or None (then retrieval
    is not measured), ``prompts`` the zero-shot prompt templates of each class.
    """

    images: Sequence[bytes]
    labels: np.ndarray
    class_names: list[str]
    captions: list[str] | None
    object_ids: list[str]
    name: str
    prompts: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.images)
        if n == 0:
            raise ValueError(f"evaluation set {self.name!r} has no images")
        if len(self.labels) != n or len(self.object_ids) != n:
            raise ValueError("images, labels and object_ids must have the same length")
        if self.captions is not None and len(self.captions) != n:
            raise ValueError("captions must be None or one per image")
        if self.labels.min() < 0 or self.labels.max() >= len(self.class_names):
            raise ValueError(f"labels must lie in [0, {len(self.class_names)})")
        if not self.prompts:
            object.__setattr__(self, "prompts", class_prompts(self.class_names))
        if len(self.prompts) != len(self.class_names):
            raise ValueError("prompts must hold one list of prompts per class")


def class_prompts(class_names: Sequence[str], mapping: PromptMapping = None) -> list[list[str]]:
    """Every template of :data:`PROMPT_TEMPLATES` filled in for each class.

    A class's text is its name (underscores read as spaces) unless ``mapping`` (a dict or a
    JSON/CSV file, see :func:`load_prompt_mapping`) gives one, e.g. ``"non_spirals"`` ->
    ``"smooth or featureless"``. Mapping keys that name no class are an error.
    """
    mapping = _as_mapping(mapping)
    unknown = sorted(set(mapping) - set(class_names))
    if unknown:
        raise ValueError(f"prompt mapping names unknown classes {unknown}; classes: {class_names}")
    texts = [mapping.get(name, name.replace("_", " ")) for name in class_names]
    return [[template.format(text) for template in PROMPT_TEMPLATES] for text in texts]


def load_prompt_mapping(path: str | os.PathLike) -> dict[str, str]:
    """Class name -> prompt text from a JSON object or a CSV with columns ``name,prompt``."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        mapping = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ValueError(f"{path}: expected a JSON object of class name -> prompt text")
        return mapping
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _require_columns(path, reader, {"name", "prompt"})
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    return {row["name"]: row["prompt"] for row in rows}


def from_lake(
    lake: Lake | str, partition: str, split: str = "test", prompts: PromptMapping = None
) -> EvalSet:
    """The ``split`` rows of ``training_pairs``, with their captions (so retrieval is measured),
    each cropped to its recorded galaxy-centred frame.

    Class names come from the whole partition, so classes absent from ``split`` still compete
    in zero-shot classification.
    """
    lake = Lake(lake) if isinstance(lake, str) else lake
    classes = lake.read(PAIRS_TABLE, partition, ["label", "label_name", "split"])
    names = dict(zip(classes["label"].to_pylist(), classes["label_name"].to_pylist(), strict=True))
    names.pop(-1, None)
    class_names = [names.get(i) or str(i) for i in range(max(names, default=-1) + 1)]
    rows: dict[str, list] = {
        "object_id": [],
        "label": [],
        "image_png": [],
        "caption": [],
        "frame": [],
    }
    for batch in lake.iter_batches(PAIRS_TABLE, partition, ["split", *rows], batch_size=256):
        keep = pc.and_(pc.equal(batch["split"], split), pc.greater_equal(batch["label"], 0))
        kept = batch.filter(keep)
        for column, values in rows.items():
            values.extend(kept[column].to_pylist())
    if not rows["object_id"]:
        present = sorted(set(classes["split"].to_pylist()))
        raise ValueError(
            f"{lake.root}: {PAIRS_TABLE} partition {partition!r} has no labelled rows of split "
            f"{split!r}; splits present: {present}"
        )
    return EvalSet(
        images=[
            _cropped_png(decode_png(png), frame)
            for png, frame in zip(rows["image_png"], rows["frame"], strict=True)
        ],
        labels=np.asarray(rows["label"], dtype=np.int64),
        class_names=class_names,
        captions=rows["caption"],
        object_ids=rows["object_id"],
        name=f"{partition} ({split})",
        prompts=class_prompts(class_names, prompts),
    )


def from_folder(
    root: str | os.PathLike,
    labels_csv: str | os.PathLike | None = None,
    prompts: PromptMapping = None,
    framing: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> EvalSet:
    """A local folder of JPEG/PNG/FITS images, labelled by class sub-folders or a CSV.

    Without ``labels_csv`` the first directory below ``root`` that is not a split name
    (``train``, ``validation``, ...) is the class, and files directly in ``root`` are left out.
    A CSV has columns ``path,label``: ``path`` relative to ``root`` (or absolute), ``label`` a
    class name or an integer id. FITS files are rendered with the pipeline's Lupton RGB. Each
    image is cropped to its galaxy-centred frame, as curation frames lake images (``framing=False``
    keeps the whole field, as plain open_clip would see it). There are no captions, so retrieval
    is not measured. With ``cache_dir`` the rendered images are kept there
    (see :func:`render_images`).
    """
    root = Path(root)
    if labels_csv is not None:
        return _from_csv(root, Path(labels_csv), prompts, framing, cache_dir)
    source = FolderSource(root, name=root.resolve().name)
    files, labels, ids = [], [], []
    for item in source.iter_items():
        if item.label < 0:
            continue
        if item.error:
            raise ValueError(item.error)
        files.append(ImageFile(item.payload, item.payload_format, item.bands, item.source_file))
        labels.append(item.label)
        ids.append(item.object_id)
    if not files:
        raise ValueError(f"{root}: no images in class sub-folders (or pass a labels CSV)")
    class_names = source.class_names()
    return EvalSet(
        images=render_images(files, framing, cache_dir),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=class_names,
        captions=None,
        object_ids=ids,
        name=root.resolve().name,
        prompts=class_prompts(class_names, prompts),
    )


def _from_csv(
    root: Path,
    csv_path: Path,
    prompts: PromptMapping,
    framing: bool,
    cache_dir: str | os.PathLike | None,
) -> EvalSet:
    rows = _csv_rows(csv_path)
    values = [label for _, _, label in rows]
    if all(_INT.fullmatch(v) for v in values):
        class_names = [str(i) for i in range(max(int(v) for v in values) + 1)]
    else:
        class_names = sorted(set(values))
    index = {name: i for i, name in enumerate(class_names)}
    files, labels, ids = [], [], []
    for line, relpath, label in rows:
        where = f"{csv_path}, row on line {line}"
        path = root / relpath
        found = split_suffix(path.name)
        if found is None:
            raise ValueError(f"{where}: {relpath!r} is not a JPEG, PNG or FITS file")
        if not path.is_file():
            raise FileNotFoundError(f"{where}: image file {path} not found")
        payload = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            payload = gzip.decompress(payload)
        bands = fits_bands(payload) if found[1] == "fits" else "rgb"
        files.append(ImageFile(payload, found[1], bands, where))
        labels.append(index[str(int(label))] if _INT.fullmatch(label) else index[label])
        ids.append(relpath)
    return EvalSet(
        images=render_images(files, framing, cache_dir),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=class_names,
        captions=None,
        object_ids=ids,
        name=f"{root.resolve().name} ({csv_path.name})",
        prompts=class_prompts(class_names, prompts),
    )


def _csv_rows(csv_path: Path) -> list[tuple[int, str, str]]:
    """(line number, path, label) of each row; an empty path or label is an error."""
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _require_columns(csv_path, reader, {"path", "label"})
        rows = []
        for row in reader:
            cells = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if not cells["path"] or not cells["label"]:
                raise ValueError(f"{csv_path}, row on line {reader.line_num}: empty path or label")
            rows.append((reader.line_num, cells["path"], cells["label"]))
    if not rows:
        raise ValueError(f"{csv_path}: no rows")
    return rows


def display_png(
    payload: bytes, payload_format: str, bands: str, where: str, framing: bool = True
) -> bytes:
    """An image as curation renders it (FITS through the Lupton RGB), cropped to its measured
    galaxy-centred frame unless ``framing`` is off, as PNG bytes."""
    try:
        rgb = to_rgb8(decode_payload(payload, payload_format), bands)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    if not framing:
        return encode_png(rgb, PASSED_ON)
    return encode_png(crop(rgb, measure_frame(rgb)), PASSED_ON)


def render_images(
    files: Sequence[ImageFile], framing: bool, cache_dir: str | os.PathLike | None = None
) -> list[bytes]:
    """:func:`display_png` of each file. With ``cache_dir`` the images are read from, or else
    written to, ``<cache_dir>/<key>.render.npz`` (key: :func:`render_key`; their bytes end to
    end and where each one ends), and rendered again when that file is unreadable."""

    def render() -> dict[str, np.ndarray]:
        images = [
            display_png(file.payload, file.payload_format, file.bands, file.where, framing)
            for file in files
        ]
        ends = np.cumsum([len(image) for image in images], dtype=np.int64)
        return {"data": np.frombuffer(b"".join(images), np.uint8), "ends": ends}

    def fits(stored: dict[str, np.ndarray]) -> bool:
        ends = stored.get("ends", ())
        return len(ends) == len(files) and (ends[-1] if len(ends) else 0) == stored["data"].size

    path = Path(cache_dir) / f"{render_key(files, framing)}.render.npz" if cache_dir else None
    stored = cached_arrays(path, render, fits)
    data, ends = stored["data"].tobytes(), stored["ends"].tolist()
    return [data[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]


def render_key(files: Sequence[ImageFile], framing: bool) -> str:
    """sha256 of the files' contents, formats and bands in order, ``framing``,
    :data:`RENDER_VERSION` and Pillow's version (its PNG encoder writes the bytes)."""
    digest = hashlib.sha256(json.dumps([RENDER_VERSION, PIL.__version__, framing]).encode())
    for file in files:
        digest.update(hashlib.sha256(file.payload).digest())
        digest.update(json.dumps([file.payload_format, file.bands]).encode())
    return digest.hexdigest()


def _cropped_png(rgb: np.ndarray, frame: Sequence[float]) -> bytes:
    """PNG bytes of the normalised ``frame`` of an image."""
    height, width = rgb.shape[:2]
    return encode_png(crop(rgb, pixel_box(frame, width, height)), PASSED_ON)


def _as_mapping(mapping: PromptMapping) -> Mapping[str, str]:
    if mapping is None:
        return {}
    if isinstance(mapping, Mapping):
        return mapping
    return load_prompt_mapping(mapping)


def _require_columns(path: Path, reader: csv.DictReader, needed: set[str]) -> None:
    missing = needed - {name.strip() for name in reader.fieldnames or []}
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
