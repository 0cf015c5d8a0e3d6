"""GalaxyMNIST (Walmsley): 10,000 64x64 DECaLS galaxies in 4 classes, as two gzipped HDF5 files.

Each of ``train_dataset.hdf5.gz`` and ``test_dataset.hdf5.gz`` holds ``images`` (N, 64, 64, 3)
uint8 and ``labels`` (N,). Items keep the upstream split in ``source_file``; curation re-splits by
object id anyway.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from cosmoalign.imaging import npy_bytes
from cosmoalign.labels import GALAXY_MNIST_CLASSES
from cosmoalign.sources.base import RawItem
from cosmoalign.sources.hdf5 import check_label, iter_rows
from cosmoalign.sources.http import Downloader

SPLITS = ("train", "test")
GALAXY_MNIST_URLS: dict[str, tuple[str, ...]] = {
    split: (
        f"https://dl.dropboxusercontent.com/s/{dropbox_id}/{split}_dataset.hdf5.gz",
        f"http://www.jb.man.ac.uk/research/MiraBest/MiraBest_F/{split}_dataset.hdf5.gz",
    )
    for split, dropbox_id in (("train", "5a14de0o7slyif9"), ("test", "5rza12nn24cwd2k"))
}
# The md5s upstream publishes with these files (galaxy_mnist.GalaxyMNIST.resources).
GALAXY_MNIST_MD5: dict[str, str] = {
    "train": "e408ae294e9b975482dc1abffeb373a6",
    "test": "7a940e4cea64a8b7cb60339098f74490",
}


class GalaxyMNISTSource:
    """GalaxyMNIST downloaded into ``cache_dir``; ``urls``, ``sha256`` and ``md5`` are keyed by
    split. A split's download is pinned by its ``sha256`` when given, else by its ``md5`` (by
    default the ones upstream publishes; ``md5={}`` skips the check)."""

    name = "galaxy_mnist"

    def __init__(
        self,
        cache_dir: Path,
        urls: Mapping[str, Sequence[str]] = GALAXY_MNIST_URLS,
        sha256: Mapping[str, str | None] | None = None,
        chunk_size: int = 256,
        downloader: Downloader | None = None,
        md5: Mapping[str, str | None] = GALAXY_MNIST_MD5,
    ) -> None:
        missing = set(SPLITS) - set(urls)
        if missing:
            raise ValueError(f"GalaxyMNIST needs URLs for the {sorted(missing)} split(s)")
        self.cache_dir = Path(cache_dir)
        self.urls = {split: list(urls[split]) for split in SPLITS}
        self.sha256 = dict(sha256 or {})
        self.md5 = dict(md5)
        self.chunk_size = chunk_size
        self.downloader = downloader or Downloader(self.cache_dir)

    def class_names(self) -> list[str]:
        """The four GalaxyMNIST classes."""
        return list(GALAXY_MNIST_CLASSES)

    def local_file(self, split: str) -> Path:
        """The unpacked HDF5 of ``split``, downloading and gunzipping it on first use."""
        hdf5 = self.cache_dir / f"{split}_dataset.hdf5"
        if not hdf5.exists():
            sha256 = self.sha256.get(split)
            archive = self.downloader.download(
                self.urls[split],
                hdf5.with_name(hdf5.name + ".gz"),
                sha256,
                label=f"GalaxyMNIST {split}",
                md5=None if sha256 else self.md5.get(split),
            )
            try:
                gunzip(archive, hdf5)
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                archive.unlink()
                raise ValueError(f"{archive} is not a valid gzip file, deleted: {exc}") from exc
        return hdf5

    def iter_items(self) -> Iterator[RawItem]:
        """Yield the train then the test galaxies, ``chunk_size`` rows at a time."""
        for split in SPLITS:
            path = self.local_file(split)
            for index, row in iter_rows(path, ("images", "labels"), self.chunk_size):
                where = f"{path}#images[{index}]"
                label = check_label(int(row["labels"]), GALAXY_MNIST_CLASSES, where)
                yield RawItem(
                    object_id=f"gmnist-{split}-{index:05d}",
                    source=self.name,
                    payload=npy_bytes(row["images"]),
                    payload_format="npy",
                    source_file=where,
                    label=label,
                    label_name=GALAXY_MNIST_CLASSES[label],
                    bands="rgb",
                )


def gunzip(source: Path, dest: Path) -> Path:
    """Decompress ``source`` into ``dest`` by streaming, through ``dest.part`` and a rename."""
    part = dest.with_name(dest.name + ".part")
    try:
        with gzip.open(source, "rb") as unpacked, part.open("wb") as out:
            shutil.copyfileobj(unpacked, out, 1 << 20)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest
