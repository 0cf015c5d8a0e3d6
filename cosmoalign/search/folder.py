"""Embed any folder of JPEG/PNG/FITS images, through the content-keyed cache.

Images are rendered as curation renders them (FITS through the Lupton RGB) and cropped to their
galaxy-centred frame, exactly as evaluation frames them, unless ``framing`` is off.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cosmoalign.evaluate.data import display_png
from cosmoalign.evaluate.embed import ImageEmbedder
from cosmoalign.models.fingerprint import model_identity
from cosmoalign.models.spec import ClipBundle
from cosmoalign.search.cache import EmbeddingCache, default_cache_dir
from cosmoalign.sources.local import FolderSource, fits_bands, split_suffix


@dataclass(frozen=True)
class FolderEmbeddings:
    """The embeddings of every readable image of a folder, in path order."""

    root: Path
    paths: list[str]
    """Paths relative to ``root`` (POSIX)."""
    labels: list[str | None]
    """The class sub-folder of each image, where it has one."""
    vectors: np.ndarray
    embedded: int
    """How many images were embedded now (the rest came from the cache)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of files that could not be read or decoded."""

    def index_of(self, path: str) -> int:
        """Row of an image given by its path relative to the folder; KeyError if absent."""
        try:
            return self.paths.index(path)
        except ValueError:
            raise KeyError(f"{path!r} is not an image of {self.root}") from None


def embed_folder(
    root: str | os.PathLike,
    bundle: ClipBundle,
    framing: bool = True,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 64,
    device: str | None = None,
) -> FolderEmbeddings:
    """Embed every image under ``root``; files whose content the cache already knows under this
    model are not decoded again. Unreadable files are skipped and listed, never fatal.

    Files are read twice at most (hashed, then decoded if new), so memory holds one batch of
    images, not the folder."""
    root = Path(root)
    cache = EmbeddingCache(cache_dir or default_cache_dir(), model_identity(bundle), framing)
    paths, labels, digests = [], [], []
    skipped: list[tuple[str, str]] = []
    files: dict[str, Path] = {}
    for item in FolderSource(root, name=root.name).iter_items():
        relpath = Path(item.source_file).relative_to(root).as_posix()
        if item.error:
            skipped.append((relpath, item.error))
            continue
        digest = hashlib.sha256(item.payload).hexdigest()
        files.setdefault(digest, Path(item.source_file))
        paths.append(relpath)
        labels.append(item.label_name)
        digests.append(digest)
    known = cache.lookup(set(files))
    pending = {digest: path for digest, path in files.items() if digest not in known}
    fresh, failed = _embed_files(pending, bundle, framing, batch_size, device, root.name)
    cache.add(fresh)
    vectors = {**known, **fresh}
    keep = [i for i, digest in enumerate(digests) if digest not in failed]
    skipped += [(paths[i], failed[digests[i]]) for i in range(len(paths)) if digests[i] in failed]
    dim = next(iter(vectors.values())).shape[0] if vectors else 0
    return FolderEmbeddings(
        root=root,
        paths=[paths[i] for i in keep],
        labels=[labels[i] for i in keep],
        vectors=np.stack([vectors[digests[i]] for i in keep]) if keep else np.zeros((0, dim)),
        embedded=len(fresh),
        skipped=skipped,
    )


def render_file(path: str | os.PathLike, framing: bool = True) -> bytes:
    """One image file rendered (and framed) as :func:`embed_folder` sees it, as PNG bytes."""
    path = Path(path)
    found = split_suffix(path.name)
    if found is None:
        raise ValueError(f"{path}: not a JPEG, PNG or FITS file")
    try:
        payload = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            payload = gzip.decompress(payload)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    bands = fits_bands(payload) if found[1] == "fits" else "rgb"
    return display_png(payload, found[1], bands, str(path), framing)


def _embed_files(
    pending: dict[str, Path],
    bundle: ClipBundle,
    framing: bool,
    batch_size: int,
    device: str | None,
    name: str,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Vectors of the pending files by digest, and the reason of each file that failed."""
    fresh: dict[str, np.ndarray] = {}
    failed: dict[str, str] = {}
    digests = list(pending)
    with (
        tqdm(total=len(digests), desc=f"embed {name}", unit="img", file=sys.stderr) as bar,
        ImageEmbedder(bundle, batch_size, device) as embedder,
    ):
        for start in range(0, len(digests), batch_size):
            batch, pngs = [], []
            for digest in digests[start : start + batch_size]:
                try:
                    pngs.append(render_file(pending[digest], framing))
                    batch.append(digest)
                except ValueError as exc:
                    failed[digest] = str(exc)
                    bar.update(1)
            if pngs:
                vectors = embedder(pngs, bar)
                fresh.update(zip(batch, vectors, strict=True))
    return fresh, failed
