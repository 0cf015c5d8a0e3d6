"""The lake as a Dagster resource."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from cosmoalign.lake import Lake, Retention, default_lake_root, storage_options_env


class LakeResource(dg.ConfigurableResource):
    """Where every asset reads and writes its Lance partitions (local path or object-store URL).

    On S3 or an S3-speaking server: ``root="s3://bucket/prefix"`` and ``storage_options`` with
    ``aws_endpoint`` (e.g. ``http://127.0.0.1:9000``), ``aws_access_key_id``,
    ``aws_secret_access_key``, ``aws_region`` and ``allow_http: "true"`` for plain HTTP; left
    out (the ``prod`` resources), Lance and s3fs read the ``AWS_*`` environment variables
    (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
    ``AWS_ALLOW_HTTP``). Subprocesses (training, captioning) get the options as those variables
    (:meth:`subprocess_env`), never on their command lines.
    """

    root: str = Field(
        default="",
        description="Lake root; empty means $COSMOALIGN_HOME or .cosmoalign/ in the repo",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="Lance/object_store options of the root (endpoint, credentials, region)",
    )
    keep_versions: int = Field(
        default=5, description="Versions of a partition always kept (the newest ones)"
    )
    keep_hours: float = Field(
        default=24.0,
        description="Older versions are removed only once this many hours old (readers of an "
        "old version, such as a training run, keep it this long); stored image features "
        "unused this long are removed too",
    )
    evaluation_cache_gb: float = Field(
        default=2.0,
        description="Size the evaluation cache (work/embeddings: embeddings, rendered real "
        "sets, maps) is trimmed to after each evaluation, least recently used files first",
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
        """The lake rooted at :attr:`url`, with its storage options and retention."""
        return Lake(
            self.url,
            self.storage_options,
            Retention(self.keep_versions, timedelta(hours=self.keep_hours)),
        )

    def subprocess_env(self) -> dict[str, str]:
        """Environment variables that give a subprocess's ``Lake(root)`` this lake's storage
        options (endpoint, credentials); empty when they come from the environment already."""
        return storage_options_env(self.storage_options) if self.is_remote else {}

    def model_dir(self, recipe: str, dataset: str) -> Path:
        """The local folder of a recipe's exported model: in the lake when it is local, else
        the published export downloaded from the object store into the cache."""
        relative = f"{recipe}_model/{dataset}"
        if not self.is_remote:
            return Path(self.url) / relative
        from cosmoalign.models.published import download_export

        return download_export(self.open(), relative, self._local_dir("exports", relative))

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
