"""A user's folder of JPEG/PNG/FITS images, labelled by a CSV or by class sub-folders."""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from cosmoalign.sources.base import UNLABELLED, PayloadFormat, RawItem

SPLIT_DIRS = frozenset({"train", "validation", "val", "test"})
_FORMATS: dict[str, PayloadFormat] = {
    ".fits.gz": "fits",
    ".fits": "fits",
    ".fit": "fits",
    ".jpeg": "jpeg",
    ".jpg": "jpeg",
    ".png": "png",
}
_INT = re.compile(r"[+-]?\d+")


class FolderSource:
    """Every image under ``root`` (recursively, hidden files skipped, sorted by relative path).

    Labels come from ``labels_csv`` (columns ``id,label``; ``id`` is a file's relative path, with
    or without its suffix, or its stem; ``label`` a class name, an integer id, or empty for
    unlabelled) or else from the first directory under ``root`` that is not a split name
    (``train``, ``validation``, ``val``, ``test``). ``class_names`` defaults to the sorted folder
    names or CSV labels (``"0".."N"`` when every CSV label is an integer). Files the CSV does not
    name are unlabelled. Object ids are ``<name>-<relative path without suffix>``, keeping the
    suffix where two files differ only by it.
    """

    def __init__(
        self,
        root: Path,
        name: str = "local",
        labels_csv: Path | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist or is not a folder")
        self.name = name
        self._files = _list_images(self.root)
        # Same name, different formats (a FITS beside its PNG rendering): ids keep the suffix.
        counts = Counter(stem for stem, _ in self._files.values())
        self._shared_stems = {stem for stem, count in counts.items() if count > 1}
        self._class_names, self._labels = (
            _csv_labels(Path(labels_csv), self._files, class_names)
            if labels_csv is not None
            else _folder_labels(self.root, self._files, class_names)
        )

    def class_names(self) -> list[str]:
        """Names of the labels, indexed by label id."""
        return list(self._class_names)

    def iter_items(self) -> Iterator[RawItem]:
        """Yield one :class:`RawItem` per file; OS-level read failures become ``error`` items."""
        for relpath, (stem, payload_format) in self._files.items():
            path = self.root / relpath
            label = self._labels.get(relpath, UNLABELLED)
            common = {
                "object_id": f"{self.name}-{relpath if stem in self._shared_stems else stem}",
                "source": self.name,
                "source_file": str(path),
                "label": label,
                "label_name": self._class_names[label] if label != UNLABELLED else None,
            }
            try:
                payload = path.read_bytes()
                if relpath.lower().endswith(".gz"):
                    payload = gzip.decompress(payload)
            except (OSError, EOFError, zlib.error) as exc:
                error = f"cannot read {path}: {exc}"
                yield RawItem(payload=b"", payload_format=payload_format, error=error, **common)
                continue
            bands = fits_bands(payload) if payload_format == "fits" else "rgb"
            yield RawItem(payload=payload, payload_format=payload_format, bands=bands, **common)


def split_suffix(filename: str) -> tuple[str, PayloadFormat] | None:
    """The name without its image suffix and the payload format, or None for other files."""
    lower = filename.lower()
    for suffix, payload_format in _FORMATS.items():
        if lower.endswith(suffix):
            return filename[: -len(suffix)], payload_format
    return None


def _list_images(root: Path) -> dict[str, tuple[str, PayloadFormat]]:
    """Map each image's relative POSIX path to (that path without suffix, format), sorted."""
    files: dict[str, tuple[str, PayloadFormat]] = {}
    for directory, subdirs, filenames in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        prefix = Path(directory).relative_to(root).as_posix()
        for filename in filenames:
            relpath = filename if prefix == "." else f"{prefix}/{filename}"
            found = split_suffix(relpath)
            if found is not None and not filename.startswith("."):
                files[relpath] = found
    return dict(sorted(files.items()))


def _normalise(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip()).casefold()


def _class_index(class_names: list[str]) -> dict[str, int]:
    return {_normalise(name): index for index, name in enumerate(class_names)}


def _class_folder(relpath: str) -> str | None:
    return next((d for d in relpath.split("/")[:-1] if d.lower() not in SPLIT_DIRS), None)


def _folder_labels(
    root: Path, files: dict[str, tuple[str, PayloadFormat]], class_names: list[str] | None
) -> tuple[list[str], dict[str, int]]:
    folders = {relpath: _class_folder(relpath) for relpath in files}
    if class_names is None:
        class_names = sorted({f for f in folders.values() if f is not None})
    index = _class_index(class_names)
    labels: dict[str, int] = {}
    for relpath, folder in folders.items():
        if folder is None:
            continue
        if _normalise(folder) not in index:
            raise ValueError(f"{root / relpath}: class folder {folder!r} is not in {class_names}")
        labels[relpath] = index[_normalise(folder)]
    return list(class_names), labels


def _csv_labels(
    csv_path: Path, files: dict[str, tuple[str, PayloadFormat]], class_names: list[str] | None
) -> tuple[list[str], dict[str, int]]:
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "label"} - {f.strip() for f in reader.fieldnames or []}
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {sorted(missing)}")
        rows = [
            (reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k})
            for row in reader
        ]
    values = [row["label"] for _, row in rows if row["label"] not in ("", str(UNLABELLED))]
    if class_names is None:
        if all(_INT.fullmatch(v) for v in values):
            class_names = [str(i) for i in range(max((int(v) for v in values), default=-1) + 1)]
        else:
            class_names = sorted(set(values))
    index = _class_index(class_names)
    lookup = _id_lookup(files)
    labels: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for line, row in rows:
        key = row["id"].replace("\\", "/").removeprefix("./")
        matches = next((level[key] for level in lookup if key in level), [])
        if len(matches) != 1:
            why = "no such image file" if not matches else f"ambiguous, matches {matches}"
            raise _row_error(csv_path, line, "id", f"{row['id']!r}: {why}")
        relpath = matches[0]
        if relpath in first_line:
            why = f"{relpath} is already labelled on line {first_line[relpath]}"
            raise _row_error(csv_path, line, "id", why)
        first_line[relpath] = line
        value = row["label"]
        if value in ("", str(UNLABELLED)):
            continue
        if _normalise(value) in index:
            labels[relpath] = index[_normalise(value)]
        elif _INT.fullmatch(value) and 0 <= int(value) < len(class_names):
            labels[relpath] = int(value)
        else:
            why = f"unknown label {value!r}; classes are {class_names}"
            raise _row_error(csv_path, line, "label", why)
    return list(class_names), labels


def _row_error(csv_path: Path, line: int, field: str, why: str) -> ValueError:
    return ValueError(f"{csv_path}, row on line {line}, field {field!r}: {why}")


def _id_lookup(files: dict[str, tuple[str, PayloadFormat]]) -> list[dict[str, list[str]]]:
    """Ways a CSV may name a file, most specific first: relative path, without suffix, stem."""
    levels: list[dict[str, list[str]]] = [{}, {}, {}]
    for relpath, (stem, _) in files.items():
        for level, key in zip(levels, (relpath, stem, stem.rsplit("/", 1)[-1]), strict=True):
            level.setdefault(key, []).append(relpath)
    return levels


def fits_bands(payload: bytes) -> str:
    """The ``BANDS`` header keyword of the first HDU that has one, else ``"unknown"``."""
    from astropy.io import fits

    try:
        with fits.open(io.BytesIO(payload), memmap=False, lazy_load_hdus=True) as hdus:
            for hdu in hdus:
                bands = hdu.header.get("BANDS")
                if bands:
                    return str(bands).strip()
    except Exception:  # corrupt content is curation's to report; the bands are just unknown
        pass
    return "unknown"
