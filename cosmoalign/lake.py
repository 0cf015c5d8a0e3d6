"""The lake: one Lance dataset per (table, partition) under one root, local or on an object store.

Layout: ``<root>/<table>/<partition>.lance``. Every write is one Lance commit: data files are
written first, then a new manifest names them, atomically (locally a rename that fails if the
version exists; on an object store one PUT, and a commit store such as ``s3+ddb://`` where
concurrent writers must be told apart). Readers open the newest committed manifest,
so they see the previous version or the new one, whole, never a mix. A writer that dies before
its commit leaves only unreferenced data files, which :meth:`Lake.cleanup` removes after Lance's
grace period. Older versions stay readable (``version=``) until the :class:`Retention` removes
them.

Every commit records the content hash of the rows written (``cosmoalign.content_hash`` in its
transaction properties): the data version the assets report to Dagster, equal for equal content
whatever the Lance version number.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

import fsspec
import pyarrow as pa

if TYPE_CHECKING:
    from lance.dataset import LanceDataset, Transaction

# Lance warns on stderr for every data file written before a dataset's first commit; its
# logger reads this once, when the module loads. It loads where the lake is first read or
# written, not with this module: a process that only names the lake (a model step forking its
# training, cosmoalign/inline_launch.py) must not have loaded Lance, which is not fork-safe.
os.environ.setdefault("LANCE_LOG", "error")

HASH_PROPERTY = "cosmoalign.content_hash"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]*$")
_COMMIT_ATTEMPTS = 20
log = logging.getLogger(__name__)


def default_lake_root() -> str:
    """``$COSMOALIGN_HOME`` if set, else ``.cosmoalign/`` in the repository."""
    repo = posixpath.dirname(posixpath.dirname(posixpath.abspath(__file__)))
    return os.environ.get("COSMOALIGN_HOME") or posixpath.join(repo, ".cosmoalign")


class LakeConflictError(RuntimeError):
    """Another writer committed the partition while this write depended on what it read."""


@dataclass(frozen=True)
class Retention:
    """Which old versions :meth:`Lake.cleanup` removes after every commit: those that are both
    older than ``keep_for`` and not among the newest ``keep_versions``. A reader holding an old
    version (a training run pins the one it started on) keeps it readable for ``keep_for``."""

    keep_versions: int = 5
    keep_for: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class WriteSummary:
    """What a committed partition version holds."""

    path: str
    rows: int
    parts: int
    """Data fragments written by this commit (all fragments when read back with ``summary``)."""
    content_hash: str
    """SHA-256 of the rows in write order: the data version Dagster records."""
    version: int = 0
    """The Lance version this summary describes."""


class Lake:
    """Lance datasets rooted at a local path or an object-store URL (``s3://bucket/prefix``).

    ``storage_options`` go to Lance as they are (object_store keys such as ``aws_endpoint``,
    ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_region``, ``allow_http``). Left out,
    Lance and s3fs both read the ``AWS_*`` environment variables (:data:`OPTION_ENV`).
    """

    def __init__(
        self,
        root: str,
        storage_options: Mapping[str, str] | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.url = root
        self.storage_options = dict(storage_options or {})
        self.retention = retention or Retention()
        if "://" in root:
            self.root = root.rstrip("/")
        else:
            self.root = posixpath.abspath(root)

    @cached_property
    def fs(self) -> fsspec.AbstractFileSystem:
        """The fsspec file system of the root (for reports and previews, not tables)."""
        options = _fsspec_options(self.root, self.storage_options)
        return fsspec.core.url_to_fs(self.root, **options)[0]

    def path(self, table: str, partition: str) -> str:
        """URI of one partition's Lance dataset."""
        for name in (table, partition):
            if not _NAME.match(name):
                raise ValueError(f"invalid lake table or partition name {name!r}")
        return posixpath.join(self.root, table, f"{partition}.lance")

    def dataset(self, table: str, partition: str, version: int | None = None) -> LanceDataset:
        """The partition's Lance dataset at ``version`` (default: the newest committed one)."""
        import lance

        uri = self.path(table, partition)
        try:
            return lance.dataset(uri, version=version, storage_options=self.storage_options)
        except ValueError as error:
            if "not found" not in str(error).lower():
                raise
            what = f"no data for table {table!r} partition {partition!r}"
            if version is not None:
                what += f" at version {version} (never written, or removed by retention)"
            raise FileNotFoundError(f"{what} ({uri})") from None

    def exists(self, table: str, partition: str) -> bool:
        """Whether the partition has a committed version."""
        try:
            self.dataset(table, partition)
        except FileNotFoundError:
            return False
        return True

    def versions(self, table: str, partition: str) -> list[int]:
        """The partition's readable versions, oldest first."""
        return [v["version"] for v in self.dataset(table, partition).versions()]

    def writer(
        self,
        table: str,
        partition: str,
        schema: pa.Schema,
        rows_per_part: int = 2048,
        bytes_per_part: int = 64 * 2**20,
        *,
        merge_on: str | None = None,
    ) -> PartitionWriter:
        """Open a writer for one partition; it commits on a clean exit (a context manager).

        Rows are flushed to a data file when ``rows_per_part`` rows or ``bytes_per_part`` bytes
        of Arrow data are pending, so memory stays bounded for image-sized rows. The commit
        replaces the partition's rows; concurrent replacements commit one after the other (the
        last one wins).

        With ``merge_on`` (a unique key column) the writer still takes every row of the new
        content but commits only the difference (Lance merge-insert: changed and new rows
        upserted, rows not written deleted), and fails with :class:`LakeConflictError` if
        another writer committed meanwhile. Meant for tables of small rows (captions): the
        changed rows are held until the commit.
        """
        return PartitionWriter(
            self, table, partition, schema, rows_per_part, bytes_per_part, merge_on
        )

    def write_table(self, table: str, partition: str, data: pa.Table) -> WriteSummary:
        """Write a whole in-memory table as one partition in one commit."""
        with self.writer(table, partition, data.schema) as writer:
            writer.write_table(data)
        return writer.summary

    def iter_batches(
        self,
        table: str,
        partition: str,
        columns: list[str] | None = None,
        batch_size: int = 1024,
        version: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a partition's rows in order, in record batches, without loading it whole.

        Read-ahead is one data file and two batches: with Lance's defaults (four files, sixteen
        batches) the resident memory of a scan of image rows grew with the table (measured: 526
        MiB at 20k rows of 30 KB, 710 MiB at 40k; 357 and 372 MiB with this read-ahead)."""
        dataset = self.dataset(table, partition, version)
        yield from dataset.to_batches(
            columns=columns,
            batch_size=batch_size,
            scan_in_order=True,
            fragment_readahead=1,
            batch_readahead=2,
        )

    def read(
        self,
        table: str,
        partition: str,
        columns: list[str] | None = None,
        version: int | None = None,
    ) -> pa.Table:
        """Read a whole partition (at ``version``, default the newest) into memory."""
        return self.dataset(table, partition, version).to_table(columns=columns)

    def count_rows(self, table: str, partition: str, version: int | None = None) -> int:
        """Row count from the manifest, without reading data."""
        return self.dataset(table, partition, version).count_rows()

    def summary(self, table: str, partition: str, version: int | None = None) -> WriteSummary:
        """What a committed version holds, with the content hash its commit recorded."""
        dataset = self.dataset(table, partition, version)
        transaction = dataset.read_transaction(dataset.version)
        properties = (transaction.transaction_properties or {}) if transaction else {}
        content_hash = properties.get(HASH_PROPERTY) or hash_batches(
            dataset.to_batches(scan_in_order=True)
        )
        return WriteSummary(
            dataset.uri,
            dataset.count_rows(),
            len(dataset.get_fragments()),
            content_hash,
            dataset.version,
        )

    def cleanup(self, table: str, partition: str) -> None:
        """Remove versions outside the :attr:`retention` (and files of writers that died,
        once Lance's grace period of a week has passed)."""
        self.dataset(table, partition).cleanup_old_versions(
            older_than=self.retention.keep_for,
            retain_versions=self.retention.keep_versions,
            error_if_tagged_old_versions=False,
        )

    def write_bytes(self, relative_path: str, data: bytes) -> str:
        """Write a small file (a preview, a report) under the root atomically; return its path.

        Locally a temporary file is renamed over the target; on an object store one PUT is
        already atomic.
        """
        path = posixpath.join(self.root, relative_path)
        if "://" in self.root:
            with self.fs.open(path, "wb") as handle:
                handle.write(data)
            return path
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with self.fs.open(temporary, "wb") as handle:
            handle.write(data)
        self.fs.mv(temporary, path)
        return path

    def delete(self, table: str, partition: str) -> None:
        """Remove a partition with all its versions, and its table's folder once empty."""
        from lance.dataset import LanceDataset

        LanceDataset.drop(self.path(table, partition), self.storage_options, ignore_not_found=True)
        if "://" not in self.root:
            folder = posixpath.join(self.root, table)
            if self.fs.exists(folder) and not self.fs.ls(folder, detail=False):
                self.fs.rmdir(folder)

    def _commit(self, uri: str, transaction: Transaction) -> LanceDataset:
        from lance.dataset import LanceDataset

        return LanceDataset.commit(uri, transaction, storage_options=self.storage_options or None)


class PartitionWriter:
    """Writes one partition's data files as rows arrive and commits them on a clean exit.

    The content hash covers the rows in write order (the Arrow IPC stream of every batch,
    streamed into the hash without a copy), so a deterministic pipeline gives the same hash on
    every re-materialization, whatever the Lance version or file layout.
    """

    def __init__(
        self,
        lake: Lake,
        table: str,
        partition: str,
        schema: pa.Schema,
        rows_per_part: int,
        bytes_per_part: int,
        merge_on: str | None,
    ) -> None:
        self.lake, self.table, self.partition = lake, table, partition
        self.schema = schema
        self.rows_per_part, self.bytes_per_part = rows_per_part, bytes_per_part
        self.uri = lake.path(table, partition)
        self.merge_on = merge_on
        self._merge: _MergeState | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = self._pending_bytes = 0
        self._fragments: list = []
        self._rows = 0
        self._hash = hashlib.sha256()
        self.summary: WriteSummary | None = None

    def __enter__(self) -> PartitionWriter:
        if self.merge_on is not None and self.lake.exists(self.table, self.partition):
            current = self.lake.dataset(self.table, self.partition)
            if current.schema.remove_metadata() == self.schema.remove_metadata():
                self._merge = _MergeState.of(current, self.merge_on)
        return self

    def write_rows(self, rows: Iterable[dict]) -> None:
        """Append rows given as dicts keyed by column name."""
        rows = list(rows)
        if rows:
            self.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def write_table(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append an Arrow table or batch (cast to the partition's schema)."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        table = table.select(self.schema.names).cast(self.schema)
        for batch in table.to_batches():
            _hash_into(self._hash, batch)
            self._rows += batch.num_rows
            if self._merge is not None:
                self._merge.add(batch)
                continue
            self._pending.append(batch)
            self._pending_rows += batch.num_rows
            self._pending_bytes += batch.nbytes
            if (
                self._pending_rows >= self.rows_per_part
                or self._pending_bytes >= self.bytes_per_part
            ):
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        import lance.fragment

        self._fragments += lance.fragment.write_fragments(
            # one fragment per flush (Lance starts a file per input chunk)
            pa.Table.from_batches(self._pending, schema=self.schema).combine_chunks(),
            self.uri,
            self.schema,
            max_rows_per_file=2**40,
            max_bytes_per_file=2**40,
            storage_options=self.lake.storage_options or None,
        )
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            return  # nothing committed; written data files are unreferenced
        properties = {HASH_PROPERTY: self._hash.hexdigest()}
        if self._merge is not None:
            dataset = self._commit_merge(self._merge, properties)
            parts = int(bool(self._merge.changed))
        else:
            self._flush()
            dataset = self._commit_overwrite(properties)
            parts = len(self._fragments)
        self.summary = WriteSummary(
            self.uri, self._rows, parts, properties[HASH_PROPERTY], dataset.version
        )
        try:
            self.lake.cleanup(self.table, self.partition)
        except (OSError, ValueError) as error:  # retention is housekeeping, never a failed write
            log.warning("cleanup of %s failed: %s", self.uri, error)

    def _commit_overwrite(self, properties: dict[str, str]) -> LanceDataset:
        """Commit the written fragments as the partition's whole content, on top of whatever
        version is newest (replacements commit in order; the last one wins)."""
        from lance.commit import CommitConflictError
        from lance.dataset import LanceOperation, Transaction

        operation = LanceOperation.Overwrite(self.schema, self._fragments)
        for _ in range(_COMMIT_ATTEMPTS):
            try:
                newest = self.lake.dataset(self.table, self.partition).version
            except FileNotFoundError:
                newest = 0
            try:
                return self.lake._commit(
                    self.uri, Transaction(newest, operation, transaction_properties=properties)
                )
            except CommitConflictError:
                continue
        raise LakeConflictError(
            f"{self.table}/{self.partition}: {_COMMIT_ATTEMPTS} commits in a row lost to other "
            "writers of the same partition; nothing of this write was committed"
        )

    def _commit_merge(self, merge: _MergeState, properties: dict[str, str]) -> LanceDataset:
        """Upsert the changed rows and delete the rows not written, in one commit on top of
        the version the writer read; fail if another writer committed since."""
        from lance.commit import CommitConflictError

        removed = merge.removed()
        if not merge.changed and not removed:
            return merge.dataset  # nothing changed: no new version
        builder = (
            merge.dataset.merge_insert(self.merge_on)
            .when_matched_update_all()
            .when_not_matched_insert_all()
        )
        if removed:
            builder = builder.when_not_matched_by_source_delete(
                f"{_quote_identifier(self.merge_on)} IN ({', '.join(map(_quote, removed))})"
            )
        source = pa.Table.from_batches(merge.changed, schema=self.schema)
        transaction, _ = builder.execute_uncommitted(source)
        transaction.transaction_properties = properties
        try:
            return self.lake._commit(self.uri, transaction)
        except CommitConflictError as error:
            raise LakeConflictError(
                f"{self.table}/{self.partition}: another writer committed after this update "
                f"read version {merge.dataset.version}; nothing of this update was committed, "
                f"run it again ({error})"
            ) from None


@dataclass
class _MergeState:
    """The stored rows' digests by key, and what a merge-mode writer has seen so far."""

    dataset: LanceDataset
    key: str
    stored: dict[str, bytes]
    seen: set[str]
    changed: list[pa.RecordBatch]

    @classmethod
    def of(cls, dataset: LanceDataset, key: str) -> _MergeState:
        stored = {}
        for batch in dataset.to_batches(batch_size=4096):
            for row in batch.to_pylist():
                stored[row[key]] = _row_digest(row)
        return cls(dataset, key, stored, set(), [])

    def add(self, batch: pa.RecordBatch) -> None:
        changed = []
        for index, row in enumerate(batch.to_pylist()):
            key = row[self.key]
            if key in self.seen:
                raise ValueError(f"duplicate {self.key} {key!r} written to {self.dataset.uri}")
            self.seen.add(key)
            if self.stored.get(key) != _row_digest(row):
                changed.append(index)
        if changed:
            self.changed.append(batch.take(pa.array(changed, pa.int64())))

    def removed(self) -> list[str]:
        return sorted(self.stored.keys() - self.seen)


def _row_digest(row: dict) -> bytes:
    return hashlib.blake2b(repr(list(row.items())).encode(), digest_size=16).digest()


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class _HashSink:
    """A write-only file object that feeds everything written to it into a hash."""

    closed = False

    def __init__(self, digest: hashlib._Hash) -> None:
        self.digest = digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _hash_into(digest: hashlib._Hash, batch: pa.RecordBatch) -> None:
    with pa.ipc.new_stream(pa.PythonFile(_HashSink(digest), mode="w"), batch.schema) as ipc:
        ipc.write_batch(batch)


def hash_batches(batches: Iterable[pa.RecordBatch]) -> str:
    """The content hash of rows in this order: what a commit records (here for a version that
    recorded none, written by other tools, or to check a recorded one)."""
    digest = hashlib.sha256()
    for batch in batches:
        _hash_into(digest, batch)
    return digest.hexdigest()


# The environment variables that Lance (object_store) and s3fs (botocore) both read for the
# storage options of an S3 lake: what a subprocess gets instead of options on its command line.
OPTION_ENV = {
    "aws_endpoint": "AWS_ENDPOINT_URL",
    "endpoint": "AWS_ENDPOINT_URL",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "aws_region": "AWS_REGION",
    "region": "AWS_REGION",
    "allow_http": "AWS_ALLOW_HTTP",
}


def storage_options_env(storage_options: Mapping[str, str]) -> dict[str, str]:
    """``AWS_*`` environment variables equivalent to S3 ``storage_options``, for a subprocess
    that opens the same lake with ``Lake(root)``; fails on an option with no variable, rather
    than let the subprocess reach another store."""
    unknown = sorted(set(storage_options) - set(OPTION_ENV))
    if unknown:
        raise ValueError(
            f"storage options {unknown} cannot be handed to a subprocess (known: "
            f"{sorted(OPTION_ENV)}); set them as environment variables instead"
        )
    return {OPTION_ENV[key]: str(value) for key, value in storage_options.items()}


def _fsspec_options(root: str, storage_options: Mapping[str, str]) -> dict:
    """fsspec (s3fs) arguments for the same store as Lance's ``storage_options``."""
    if not root.startswith("s3://"):
        return {}
    options: dict = {}
    if "aws_access_key_id" in storage_options:
        options["key"] = storage_options["aws_access_key_id"]
    if "aws_secret_access_key" in storage_options:
        options["secret"] = storage_options["aws_secret_access_key"]
    client: dict = {}
    if endpoint := storage_options.get("aws_endpoint") or storage_options.get("endpoint"):
        client["endpoint_url"] = endpoint
    if region := storage_options.get("aws_region") or storage_options.get("region"):
        client["region_name"] = region
    if client:
        options["client_kwargs"] = client
    return options
