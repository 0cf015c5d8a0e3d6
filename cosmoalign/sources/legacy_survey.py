"""DESI Legacy Imaging Surveys: FITS cutouts (float32, bands x N x N, with WCS) by RA/Dec."""

from __future__ import annotations

from pathlib import Path

from cosmoalign.sources.cutouts import CutoutSource
from cosmoalign.sources.http import Downloader

LEGACY_CUTOUT_URL = "https://www.legacysurvey.org/viewer/cutout.fits"


class LegacySurveySource(CutoutSource):
    """One FITS cutout per catalog row from the Legacy Survey viewer's cutout service."""

    name = "legacy_survey"
    payload_format = "fits"
    suffix = ".fits"

    def __init__(
        self,
        catalog_csv: Path,
        cache_dir: Path,
        base_url: str = LEGACY_CUTOUT_URL,
        layer: str = "ls-dr10",
        pixscale: float = 0.262,
        size: int = 256,
        bands: str = "grz",
        downloader: Downloader | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__(catalog_csv, cache_dir, base_url, downloader, class_names)
        self.layer = layer
        self.pixscale = pixscale
        self.size = size
        self.bands = bands

    def query(self) -> dict[str, object]:
        """``layer``, ``pixscale`` (arcsec/pixel), ``size`` (pixels) and ``bands``."""
        return {
            "layer": self.layer,
            "pixscale": self.pixscale,
            "size": self.size,
            "bands": self.bands,
        }
