"""Files written whole or not at all, and their digests: the one copy of each helper."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

CHUNK = 1 << 20


def file_digests(path: str | os.PathLike, algorithms: Sequence[str]) -> dict[str, str]:
    """Hex digests of a file by hashlib algorithm name, all in one pass of 1 MiB blocks."""
    digests = {name: hashlib.new(name) for name in algorithms}
    with Path(path).open("rb") as handle:
        while block := handle.read(CHUNK):
            for digest in digests.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file."""
    return file_digests(path, ("sha256",))["sha256"]


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A handle on a temporary file beside ``path`` that replaces ``path`` (flushed, fsynced,
    mode 0644) when the block ends cleanly, and is removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(descriptor, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` whole or not at all."""
    with atomic_output(path, "wb" if isinstance(data, bytes) else "w") as handle:
        handle.write(data)
    return Path(path)
