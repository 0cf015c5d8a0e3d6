"""Safe extraction of zip and tar archives downloaded from the internet.

Every member is checked before anything is written: no absolute paths or drive letters, no ``..``
components, no links or device files, and a cap on the total size. Extraction goes to a temporary
folder beside the destination that is renamed into place only when complete.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

DEFAULT_MAX_BYTES = 64 * 2**30


class UnsafeArchiveError(ValueError):
    """An archive member would escape the destination, is a link, or the archive is too big."""


@dataclass(frozen=True)
class _Member:
    name: str
    relpath: PurePosixPath
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes]]


def extract_archive(archive: Path, dest: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """Extract a zip or tar (optionally gz/bz2/xz) ``archive`` into the folder ``dest``.

    Raises :class:`UnsafeArchiveError` naming the first unsafe member, before writing anything.
    An existing ``dest`` is replaced once the new extraction is complete.
    """
    archive, dest = Path(archive), Path(dest)
    with _members(archive) as members:
        total = sum(member.size for member in members)
        if total > max_bytes:
            raise UnsafeArchiveError(f"{archive}: {total} bytes unpacked exceeds {max_bytes}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.extracting-"))
        try:
            for member in members:
                _write(member, tmp)
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def safe_relpath(name: str) -> PurePosixPath:
    """The member name as a relative path, or :class:`UnsafeArchiveError` if it could escape."""
    posix = name.replace("\\", "/")
    if not posix or "\0" in posix or posix.startswith("/") or (posix[1:2] == ":"):
        raise UnsafeArchiveError(f"member {name!r} has an absolute or invalid path")
    parts = [part for part in PurePosixPath(posix).parts if part != "."]
    if ".." in parts:
        raise UnsafeArchiveError(f"member {name!r} points outside the destination")
    return PurePosixPath(*parts)


@contextmanager
def _members(archive: Path) -> Iterator[list[_Member]]:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            yield [_zip_member(handle, info) for info in handle.infolist()]
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as handle:
            yield [_tar_member(handle, info) for info in handle.getmembers()]
    else:
        raise UnsafeArchiveError(f"{archive} is neither a zip nor a tar archive")


def _zip_member(handle: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchiveError(f"member {info.filename!r} is a link or special file")
    return _Member(
        info.filename,
        safe_relpath(info.filename),
        info.is_dir(),
        info.file_size,
        lambda: handle.open(info),
    )


def _tar_member(handle: tarfile.TarFile, info: tarfile.TarInfo) -> _Member:
    if not (info.isfile() or info.isdir()):
        raise UnsafeArchiveError(f"member {info.name!r} is a link or special file")

    def open_member() -> IO[bytes]:
        stream = handle.extractfile(info)
        assert stream is not None  # regular files always have a stream
        return stream

    return _Member(info.name, safe_relpath(info.name), info.isdir(), info.size, open_member)


def _write(member: _Member, root: Path) -> None:
    if not member.relpath.parts:  # "./", the archive's own root
        return
    target = root.joinpath(*member.relpath.parts)
    if not target.resolve().is_relative_to(root.resolve()):
        raise UnsafeArchiveError(f"member {member.name!r} points outside the destination")
    if member.is_dir:
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # zipfile and tarfile stop reading at the declared size, so the size cap above holds
    with member.open() as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
