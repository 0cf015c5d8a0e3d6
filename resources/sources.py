"""Survey sources behind one Dagster resource: a config class per source, a dispatcher by dataset.

Like the Hacker News client in Dagster's fully featured example, the resource hides whether data
comes from a live service, a download cache or an offline generator; assets only ask
``sources.open(dataset, cache_dir)``. Core classes are imported inside ``build`` so the code
location loads without touching h5py, astropy or scikit-image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from cosmoalign.sources.base import Source
from cosmoalign.sources.galaxy10 import GALAXY10_SHA256, GALAXY10_URLS
from cosmoalign.sources.galaxy_mnist import GALAXY_MNIST_URLS

if TYPE_CHECKING:
    from cosmoalign.sources.http import Downloader


class HttpConfig(dg.Config):
    """How online sources talk to servers: retries, backoff, politeness, concurrency."""

    retries: int = 4
    backoff_seconds: float = 1.0
    timeout_seconds: float = 60.0
    deadline_seconds: float = Field(
        default=4 * 3600.0, description="Longest one file download may take, retries included"
    )
    requests_per_second: float = 10.0
    max_workers: int = 4

    def downloader(self, cache_dir: Path) -> Downloader:
        """A downloader with these settings, caching under ``cache_dir``."""
        from cosmoalign.sources.http import Downloader

        return Downloader(
            cache_dir,
            retries=self.retries,
            backoff=self.backoff_seconds,
            timeout=self.timeout_seconds,
            deadline=self.deadline_seconds,
            min_interval=1.0 / self.requests_per_second if self.requests_per_second > 0 else 0.0,
            max_workers=self.max_workers,
        )


class EmbeddedConfig(dg.Config):
    """The offline default: real SDSS cutouts shipped in the package (unlabelled), procedural
    Galaxy10-class galaxies (labelled) and real HST cutouts."""

    total: int = Field(default=800, description="Procedural galaxies, in Galaxy10 proportions")
    min_per_class: int = 20
    size: int = Field(default=128, description="Side of each image in pixels")
    seed: int = 0
    include_hst: bool = True
    max_hst: int = 200
    max_real: int = Field(
        default_factory=lambda: int(os.environ.get("COSMOALIGN_EMBEDDED_REAL", 2000)),
        description="Real SDSS cutouts from the package (<= 2000; $COSMOALIGN_EMBEDDED_REAL)",
    )

    def build(self, cache_dir: Path, http: HttpConfig) -> Source:
        """The configured embedded source."""
        from cosmoalign.sources.embedded import EmbeddedSource

        return EmbeddedSource(
            total=self.total,
            min_per_class=self.min_per_class,
            size=self.size,
            seed=self.seed,
            include_hst=self.include_hst,
            max_hst=self.max_hst,
            max_real=self.max_real,
        )


class Galaxy10Config(dg.Config):
    """Galaxy10 DECaLS: the Zenodo HDF5 (mirrors tried in order), or a local copy."""

    urls: list[str] = Field(default_factory=lambda: list(GALAXY10_URLS))
    sha256: str = Field(
        default=GALAXY10_SHA256,
        description="Pin the download (default: upstream's published sha256); empty skips it",
    )
    h5_path: str = Field(default="", description="Use this local HDF5 instead of downloading")
    chunk_size: int = 256

    def build(self, cache_dir: Path, http: HttpConfig) -> Source:
        """The configured Galaxy10 DECaLS source."""
        from cosmoalign.sources.galaxy10 import Galaxy10Source

        return Galaxy10Source(
            cache_dir,
            urls=self.urls,
            sha256=self.sha256 or None,
            chunk_size=self.chunk_size,
            downloader=http.downloader(cache_dir),
            h5_path=Path(self.h5_path) if self.h5_path else None,
        )


class GalaxyMnistConfig(dg.Config):
    """GalaxyMNIST's gzipped HDF5 train and test files."""

    train_urls: list[str] = Field(default_factory=lambda: list(GALAXY_MNIST_URLS["train"]))
    test_urls: list[str] = Field(default_factory=lambda: list(GALAXY_MNIST_URLS["test"]))
    train_sha256: str = Field(default="", description="Pin; empty: upstream's published md5")
    test_sha256: str = Field(default="", description="Pin; empty: upstream's published md5")

    def build(self, cache_dir: Path, http: HttpConfig) -> Source:
        """The configured GalaxyMNIST source."""
        from cosmoalign.sources.galaxy_mnist import GalaxyMNISTSource

        return GalaxyMNISTSource(
            cache_dir,
            urls={"train": self.train_urls, "test": self.test_urls},
            sha256={"train": self.train_sha256 or None, "test": self.test_sha256 or None},
            downloader=http.downloader(cache_dir),
        )


def _catalog(path: str, dataset: str) -> Path:
    if not path:
        raise ValueError(
            f"dataset {dataset!r} needs a catalog: set resources.sources.config.{dataset}"
            ".catalog_csv to a CSV with columns ra, dec (optional label, object_id)"
        )
    return Path(path)


class LegacySurveyConfig(dg.Config):
    """grz FITS cutouts from the Legacy Survey cutout service for a catalog of RA/Dec."""

    catalog_csv: str = ""
    base_url: str = "https://www.legacysurvey.org/viewer/cutout.fits"
    layer: str = "ls-dr10"
    pixscale: float = 0.262
    size: int = 256
    bands: str = "grz"

    def build(self, cache_dir: Path, http: HttpConfig) -> Source:
        """The configured Legacy Survey source."""
        from cosmoalign.sources.legacy_survey import LegacySurveySource

        return LegacySurveySource(
            _catalog(self.catalog_csv, "legacy_survey"),
            cache_dir,
            base_url=self.base_url,
            layer=self.layer,
            pixscale=self.pixscale,
            size=self.size,
            bands=self.bands,
            downloader=http.downloader(cache_dir),
        )


class SdssConfig(dg.Config):
    """SDSS SkyServer JPEG cutouts for a catalog of RA/Dec."""

    catalog_csv: str = ""
    base_url: str = "https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg"
    scale: float = 0.396
    width: int = 256
    height: int = 256

    def build(self, cache_dir: Path, http: HttpConfig) -> Source:
        """The configured SDSS source."""
        from cosmoalign.sources.sdss import SDSSSource

        return SDSSSource(
            _catalog(self.catalog_csv, "sdss"),
            cache_dir,
            base_url=self.base_url,
            scale=self.scale,
            width=self.width,
            height=self.height,
            downloader=http.downloader(cache_dir),
        )


class SpacenetConfig(dg.Config):
    """SpaceNet: a downloaded folder, or the Kaggle API when credentials are configured.

    Credentials come from ``KAGGLE_USERNAME``/``KAGGLE_KEY`` or ``~/.kaggle/kaggle.json``, never
    from run config, so they stay out of the run's stored configuration.
    """

    folder: str = Field(default="", description="An already downloaded SpaceNet folder")
    dataset: str = "razaimam45/spacenet-an-optimally-distributed-astronomy-data"
    api_base: str = "https://www.kaggle.com/api/v1"
    sha256: str = ""

    def build(self, cache_dir: Path, http: HttpConfig) -> Source:
        """The configured SpaceNet source."""
        from cosmoalign.sources.spacenet import KaggleCredentials, SpaceNetSource

        return SpaceNetSource(
            cache_dir,
            folder=Path(self.folder) if self.folder else None,
            credentials=KaggleCredentials.discover(),
            dataset=self.dataset,
            api_base=self.api_base,
            sha256=self.sha256 or None,
            downloader=http.downloader(cache_dir),
        )


class LocalFolderConfig(dg.Config):
    """A user's folder of JPEG/PNG/FITS images, labelled by class sub-folders or a CSV."""

    root: str = Field(
        default_factory=lambda: os.environ.get("COSMOALIGN_LOCAL_DIR", ""),
        description="Folder of images (required for 'local'; default $COSMOALIGN_LOCAL_DIR)",
    )
    labels_csv: str = Field(default="", description="Optional CSV with columns id,label")

    def build(self, cache_dir: Path, http: HttpConfig) -> Source:
        """The configured folder source."""
        from cosmoalign.sources.local import FolderSource

        if not self.root:
            raise ValueError(
                "dataset 'local' needs a folder: set resources.sources.config.local.root "
                "(or COSMOALIGN_LOCAL_DIR) to a directory of images"
            )
        labels = Path(self.labels_csv) if self.labels_csv else None
        return FolderSource(Path(self.root), labels_csv=labels)


class SurveySources(dg.ConfigurableResource):
    """Every dataset the pipeline knows, by partition key; ``open`` builds its source."""

    http: HttpConfig = HttpConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    galaxy10_decals: Galaxy10Config = Galaxy10Config()
    galaxy_mnist: GalaxyMnistConfig = GalaxyMnistConfig()
    legacy_survey: LegacySurveyConfig = LegacySurveyConfig()
    sdss: SdssConfig = SdssConfig()
    spacenet: SpacenetConfig = SpacenetConfig()
    local: LocalFolderConfig = LocalFolderConfig()

    def open(self, dataset: str, cache_dir: Path) -> Source:
        """The source behind a dataset partition, with downloads cached under ``cache_dir``."""
        config = getattr(self, dataset, None) if dataset != "http" else None
        if not hasattr(config, "build"):
            raise ValueError(f"unknown dataset {dataset!r}")
        return config.build(cache_dir, self.http)
