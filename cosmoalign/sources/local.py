"""A user's folder of JPEG/PNG/FITS images or ``.npy`` arrays, labelled by a CSV or by class
sub-folders.

Only regular files inside the folder are read: a symlink is resolved and must stay inside, a FIFO
or device is never opened, and a file (or a ``.gz`` once unpacked) over the size cap is not read.
Each such file becomes an item with ``error`` set, which curation quarantines with that reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import stat
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from cosmoalign.sources.base import UNLABELLED, PayloadFormat, RawItem

SPLIT_DIRS = frozenset({"train", "validation", "val", "test"})
MAX_FILE_BYTES = 512 * 2**20
"""Default cap on one image file's size (and on a ``.gz`` file's unpacked size)."""
_FORMATS: dict[str, PayloadFormat] = {
    ".fits.gz": "fits",
    ".fits": "fits",
    ".fit": "fits",
    ".jpeg": "jpeg",
    ".jpg": "jpeg",
    ".png": "png",
    ".npy": "npy",
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
    suffix where two files differ only by it. Files over ``max_file_bytes``, links leading out of
    ``root`` and anything but regular files become ``error`` items.
    """

    def __init__(
        self,
        root: Path,
        name: str = "local",
        labels_csv: Path | None = None,
        class_names: list[str] | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist or is not a folder")
        self.name = name
        self.max_file_bytes = max_file_bytes
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
                payload = read_regular_file(self.root, path, self.max_file_bytes)
                if relpath.lower().endswith(".gz"):
                    payload = _gunzip(payload, self.max_file_bytes)
            except (UnsafeFileError, OSError, EOFError, zlib.error) as exc:
                error = f"cannot read {path}: {exc}"
                yield RawItem(payload=b"", payload_format=payload_format, error=error, **common)
                continue
            bands = fits_bands(payload) if payload_format == "fits" else "rgb"
            yield RawItem(payload=payload, payload_format=payload_format, bands=bands, **common)


class UnsafeFileError(ValueError):
    """A file that is not read: outside the folder, not a regular file, or too big."""


def read_regular_file(root: Path, path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes`` that resolves inside ``root``.

    The type and size are checked with ``stat`` before opening (a FIFO is never opened, so it
    cannot block), and again on the open descriptor, which is opened without following links.
    """
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root):
        raise UnsafeFileError(f"it is a link to {real}, outside the folder {real_root}")
    _check_regular(os.stat(real), max_bytes)
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        _check_regular(os.fstat(handle.fileno()), max_bytes)  # unchanged since the stat above
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFileError(f"it grew past the cap of {max_bytes} bytes while being read")
    return data


def _check_regular(info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = {
            stat.S_IFIFO: "a FIFO",
            stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device",
            stat.S_IFSOCK: "a socket",
            stat.S_IFDIR: "a folder",
        }.get(stat.S_IFMT(info.st_mode), "a special file")
        raise UnsafeFileError(f"it is {kind}, not a regular file")
    if info.st_size > max_bytes:
        raise UnsafeFileError(f"{info.st_size} bytes, over the cap of {max_bytes} per file")


def _gunzip(payload: bytes, max_bytes: int) -> bytes:
    """Unpack gzip bytes, refusing more than ``max_bytes`` of output (a gzip bomb)."""
    with gzip.GzipFile(fileobj=io.BytesIO(payload)) as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFileError(f"it unpacks to more than the cap of {max_bytes} bytes")
    return data


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
