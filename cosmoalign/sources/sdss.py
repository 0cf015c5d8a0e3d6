"""SDSS SkyServer: colour JPEG cutouts (gri composites) by RA/Dec."""

from __future__ import annotations

from pathlib import Path

from cosmoalign.sources.cutouts import CutoutSource
from cosmoalign.sources.http import Downloader

SDSS_CUTOUT_URL = "https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg"


class SDSSSource(CutoutSource):
    """One JPEG cutout per catalog row from SkyServer's ImgCutout service."""

    name = "sdss"
    payload_format = "jpeg"
    bands = "rgb"
    suffix = ".jpg"

    def __init__(
        self,
        catalog_csv: Path,
        cache_dir: Path,
        base_url: str = SDSS_CUTOUT_URL,
        scale: float = 0.396,
        width: int = 256,
        height: int = 256,
        downloader: Downloader | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__(catalog_csv, cache_dir, base_url, downloader, class_names)
        self.scale = scale
        self.width = width
        self.height = height

    def query(self) -> dict[str, object]:
        """``scale`` (arcsec/pixel), ``width`` and ``height`` (pixels)."""
        return {
            "scale": self.scale,
            "width": self.width,
            "height": self.height,
        }
