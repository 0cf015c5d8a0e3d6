"""The lake as a Dagster resource."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from cosmoalign.lake import Lake

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_lake_root() -> str:
    """``$COSMOALIGN_HOME`` if set, else ``.cosmoalign/`` in the repository."""
    return os.environ.get("COSMOALIGN_HOME") or str(REPO_ROOT / ".cosmoalign")


class LakeResource(dg.ConfigurableResource):
    """Where every asset reads and writes its Parquet partitions (local path or fsspec URL)."""

    root: str = Field(
        default="",
        description="Lake root; empty means $COSMOALIGN_HOME or .cosmoalign/ in the repo",
    )

    @property
    def url(self) -> str:
        """The resolved lake root."""
        return self.root or default_lake_root()

    @property
    def is_remote(self) -> bool:
        """Whether the lake is an fsspec URL rather than a local folder."""
        return "://" in self.url

    def open(self) -> Lake:
        """The lake rooted at :attr:`url`."""
        return Lake(self.url)

    def cache_dir(self, name: str) -> Path:
        """A local folder for downloads of one source (the raw area), created on demand."""
        return self._local_dir("raw_files", name)

    def work_dir(self, name: str) -> Path:
        """A local working folder for training runs and checkpoints, created on demand."""
        return self._local_dir("work", name)

    def _local_dir(self, area: str, name: str) -> Path:
        """``<lake>/<area>/<name>`` for a local lake; under ``$COSMOALIGN_CACHE`` (default
        ``~/.cache/cosmoalign``) when the lake is remote."""
        if self.is_remote:
            base = Path(os.environ.get("COSMOALIGN_CACHE", Path.home() / ".cache" / "cosmoalign"))
        else:
            base = Path(self.url)
        path = base / area / name
        path.mkdir(parents=True, exist_ok=True)
        return path
