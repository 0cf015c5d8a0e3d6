"""Survey sources behind one Dagster resource: a config class per source, a dispatcher by dataset.

Like the Hacker News client in Dagster's fully featured example, the resource hides whether data
comes from a live service, a download cache or an offline generator; assets only ask
``sources.open(dataset, cache_dir)``.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from cosmoalign.sources.base import Source


class EmbeddedConfig(dg.Config):
    """The offline default: procedural Galaxy10-class galaxies plus real HST cutouts."""

    total: int = Field(default=600, description="Procedural galaxies, split across classes")
    size: int = Field(default=128, description="Side of each rendered image in pixels")
    seed: int = 0
    include_hst: bool = True
    max_hst: int = 200

    def build(self, cache_dir: Path) -> Source:
        """The configured embedded source."""
        from cosmoalign.sources.embedded import EmbeddedSource

        return EmbeddedSource(
            total=self.total,
            size=self.size,
            seed=self.seed,
            include_hst=self.include_hst,
            max_hst=self.max_hst,
        )


class LocalFolderConfig(dg.Config):
    """A user's folder of JPEG/PNG/FITS images, labelled by class sub-folders or a CSV."""

    root: str = Field(default="", description="Folder of images (required for 'local')")
    labels_csv: str = Field(default="", description="Optional CSV with columns id,label")

    def build(self, cache_dir: Path) -> Source:
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

    embedded: EmbeddedConfig = EmbeddedConfig()
    local: LocalFolderConfig = LocalFolderConfig()

    def open(self, dataset: str, cache_dir: Path) -> Source:
        """The source behind a dataset partition, with downloads cached under ``cache_dir``."""
        config = getattr(self, dataset, None)
        if not isinstance(config, dg.Config) or not hasattr(config, "build"):
            raise ValueError(f"unknown dataset {dataset!r}")
        return config.build(cache_dir)
