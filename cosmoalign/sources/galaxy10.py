"""Galaxy10 DECaLS (Leung & Bovy): 17,736 DECaLS galaxies in 10 classes, one 2.7 GB HDF5 file.

The file's keys are ``images`` (N, 256, 256, 3) uint8, ``ans`` (N,) class ids, ``ra``, ``dec``,
``redshift`` and ``pxscale``. ``redshift`` is a copy of ``dec`` upstream (a known bug) and is not
read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from cosmoalign.imaging import npy_bytes
from cosmoalign.labels import GALAXY10_DECALS_CLASSES
from cosmoalign.sources.base import RawItem
from cosmoalign.sources.hdf5 import check_label, iter_rows
from cosmoalign.sources.http import Downloader

FILENAME = "Galaxy10_DECals.h5"
GALAXY10_URLS: tuple[str, ...] = (
    "https://zenodo.org/records/10845026/files/Galaxy10_DECals.h5",
    "https://astro.utoronto.ca/~hleung/shared/Galaxy10/Galaxy10_DECals.h5",
)
# The sha256 upstream pins in its own loader (astroNN.datasets.galaxy10, by the dataset's author);
# the Zenodo record publishes md5 c6b7b4db82b3a5d63d6a7e3e5249b51c for the same file.
GALAXY10_SHA256 = "19aefc477c41bb7f77ff07599a6b82a038dc042f889a111b0d4d98bb755c1571"


class Galaxy10Source:
    """Galaxy10 DECaLS read from ``h5_path`` or downloaded once into ``cache_dir``.

    ``sha256`` pins the download: by default the one upstream publishes (None skips the check,
    for a mirror of another version).
    """

    name = "galaxy10_decals"

    def __init__(
        self,
        cache_dir: Path,
        urls: Sequence[str] = GALAXY10_URLS,
        sha256: str | None = GALAXY10_SHA256,
        chunk_size: int = 256,
        downloader: Downloader | None = None,
        h5_path: Path | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.urls = list(urls)
        self.sha256 = sha256
        self.chunk_size = chunk_size
        self.downloader = downloader or Downloader(self.cache_dir)
        self.h5_path = Path(h5_path) if h5_path is not None else None

    def class_names(self) -> list[str]:
        """The ten Galaxy10 DECaLS classes."""
        return list(GALAXY10_DECALS_CLASSES)

    def local_file(self) -> Path:
        """The HDF5 file: ``h5_path`` as given, or the verified download in ``cache_dir``."""
        if self.h5_path is not None:
            return self.h5_path
        return self.downloader.download(
            self.urls, self.cache_dir / FILENAME, self.sha256, label=FILENAME
        )

    def iter_items(self) -> Iterator[RawItem]:
        """Yield one item per galaxy, reading ``chunk_size`` rows of the file at a time."""
        path = self.local_file()
        for index, row in iter_rows(path, ("images", "ans", "ra", "dec"), self.chunk_size):
            where = f"{path}#images[{index}]"
            label = check_label(int(row["ans"]), GALAXY10_DECALS_CLASSES, where)
            ra, dec = float(row["ra"]), float(row["dec"])
            yield RawItem(
                object_id=f"g10-{index:05d}-{ra:.5f}{dec:+.5f}",
                source=self.name,
                payload=npy_bytes(row["images"]),
                payload_format="npy",
                source_file=where,
                label=label,
                label_name=GALAXY10_DECALS_CLASSES[label],
                ra=ra,
                dec=dec,
                bands="rgb",
            )
