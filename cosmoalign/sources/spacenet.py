"""SpaceNet (Imam et al.), CosmoCLIP's data: astronomy images in 8 classes, one folder per class.

It is read from a folder when one is given or already unpacked in ``cache_dir``; otherwise it is
downloaded from the Kaggle API with the user's credentials and unpacked safely. Class folder
names such as ``Planets``, ``galaxies`` or ``black_holes`` map to :data:`SPACENET_CLASSES`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cosmoalign.archives import extract_archive
from cosmoalign.labels import SPACENET_CLASSES
from cosmoalign.sources.base import UNLABELLED, RawItem
from cosmoalign.sources.http import Downloader
from cosmoalign.sources.local import SPLIT_DIRS, FolderSource

KAGGLE_API = "https://www.kaggle.com/api/v1"
SPACENET_DATASET = "razaimam45/spacenet-an-optimally-distributed-astronomy-data"
_IGNORED_DIRS = frozenset({"__macosx"})


@dataclass(frozen=True)
class KaggleCredentials:
    """A Kaggle user name and API key (the key is kept out of ``repr``)."""

    username: str
    key: str = field(repr=False)

    @classmethod
    def discover(cls, environ: Mapping[str, str] | None = None) -> KaggleCredentials | None:
        """``KAGGLE_USERNAME``/``KAGGLE_KEY``, else ``kaggle.json`` in ``KAGGLE_CONFIG_DIR`` or
        ``~/.kaggle``; None when neither is set."""
        environ = os.environ if environ is None else environ
        if environ.get("KAGGLE_USERNAME") and environ.get("KAGGLE_KEY"):
            return cls(environ["KAGGLE_USERNAME"], environ["KAGGLE_KEY"])
        config_dir = environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle"
        path = Path(config_dir) / "kaggle.json"
        if not path.is_file():
            return None
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(config["username"]), str(config["key"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path} is not a Kaggle credentials file ({type(exc).__name__})"
            ) from exc


def spacenet_label(folder: str) -> int | None:
    """The SpaceNet class id of a folder name (any case, plural, ``_``/``-``/space separated)."""
    name = re.sub(r"[\s_-]+", "", folder).casefold()
    singulars = {name, name.removesuffix("s"), name.removesuffix("e"), re.sub(r"ies$", "y", name)}
    for label, class_name in enumerate(SPACENET_CLASSES):
        if class_name.replace(" ", "") in singulars:
            return label
    return None


class SpaceNetSource:
    """SpaceNet from ``folder``, the unpacked copy in ``cache_dir``, or the Kaggle API.

    ``credentials`` default to :meth:`KaggleCredentials.discover`; they are only needed when the
    data is not on disk yet.
    """

    name = "spacenet"

    def __init__(
        self,
        cache_dir: Path,
        folder: Path | None = None,
        credentials: KaggleCredentials | None = None,
        dataset: str = SPACENET_DATASET,
        api_base: str = KAGGLE_API,
        sha256: str | None = None,
        downloader: Downloader | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.folder = Path(folder) if folder is not None else None
        self.credentials = credentials
        self.dataset = dataset
        self.api_base = api_base.rstrip("/")
        self.sha256 = sha256
        self.downloader = downloader or Downloader(self.cache_dir)

    def class_names(self) -> list[str]:
        """The eight SpaceNet classes."""
        return list(SPACENET_CLASSES)

    def local_folder(self) -> Path:
        """The unpacked dataset: ``folder``, or ``cache_dir/spacenet`` (downloaded if missing)."""
        if self.folder is not None:
            return self.folder
        unpacked = self.cache_dir / "spacenet"
        if unpacked.is_dir():
            return unpacked
        credentials = self.credentials or KaggleCredentials.discover()
        if credentials is None:
            raise FileNotFoundError(
                "SpaceNet is not on disk and no Kaggle credentials are configured: set "
                "KAGGLE_USERNAME and KAGGLE_KEY (or ~/.kaggle/kaggle.json), or give a folder"
            )
        archive = self.downloader.download(
            f"{self.api_base}/datasets/download/{self.dataset}",
            self.cache_dir / "spacenet.zip",
            self.sha256,
            label="SpaceNet",
            auth=(credentials.username, credentials.key),
        )
        return extract_archive(archive, unpacked)

    def iter_items(self) -> Iterator[RawItem]:
        """Yield every image under the class folders, labelled with SpaceNet's class ids."""
        source = FolderSource(class_root(self.local_folder()), name=self.name)
        labels = []
        for folder in source.class_names():
            label = spacenet_label(folder)
            if label is None:
                raise ValueError(f"class folder {folder!r} is not one of {SPACENET_CLASSES}")
            labels.append(label)
        for item in source.iter_items():
            if item.label == UNLABELLED:
                yield item
                continue
            label = labels[item.label]
            yield replace(item, label=label, label_name=SPACENET_CLASSES[label])


def class_root(folder: Path) -> Path:
    """The folder whose sub-folders are the classes (or splits), skipping single wrapper folders
    such as the one Kaggle archives often put everything in."""
    while True:
        subdirs = [
            d
            for d in folder.iterdir()
            if d.is_dir() and not d.name.startswith(".") and d.name.casefold() not in _IGNORED_DIRS
        ]
        if len(subdirs) != 1 or _is_data(subdirs[0].name):
            return folder
        folder = subdirs[0]


def _is_data(name: str) -> bool:
    return spacenet_label(name) is not None or name.casefold() in SPLIT_DIRS
