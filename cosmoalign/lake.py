"""The lake: partitioned Parquet tables under one root, written atomically.

Layout: ``<root>/<table>/<partition>/part-NNNNN.parquet``. A partition is written into a staging
folder and swapped in whole on success, so readers never see half a partition and a failed write
leaves the previous version intact. The root may be a local path or any fsspec URL.
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class WriteSummary:
    """What a committed partition holds."""

    path: str
    rows: int
    parts: int
    content_hash: str


class Lake:
    """Partitioned Parquet storage rooted at a local path or fsspec URL."""

    def __init__(self, root: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.url = root

    def path(self, table: str, partition: str) -> str:
        """Folder of one partition of a table."""
        return posixpath.join(self.root, table, partition)

    def exists(self, table: str, partition: str) -> bool:
        """Whether a committed partition exists."""
        return bool(self._parts(self.path(table, partition)))

    def writer(
        self,
        table: str,
        partition: str,
        schema: pa.Schema,
        rows_per_part: int = 2048,
        bytes_per_part: int = 64 * 2**20,
    ) -> PartitionWriter:
        """Open an atomic writer for one partition (use as a context manager).

        A part is flushed when it reaches ``rows_per_part`` rows or ``bytes_per_part`` bytes of
        Arrow data, whichever comes first, so memory stays bounded for image-sized rows.
        """
        return PartitionWriter(self, table, partition, schema, rows_per_part, bytes_per_part)

    def write_table(self, table: str, partition: str, data: pa.Table) -> WriteSummary:
        """Write a whole in-memory table as one partition, atomically."""
        with self.writer(table, partition, data.schema) as writer:
            writer.write_table(data)
        return writer.summary

    def iter_batches(
        self,
        table: str,
        partition: str,
        columns: list[str] | None = None,
        batch_size: int = 1024,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a partition's rows in record batches without loading it whole."""
        parts = self._parts(self.path(table, partition))
        if not parts:
            raise FileNotFoundError(f"no data for table {table!r} partition {partition!r}")
        for part in parts:
            with self.fs.open(part, "rb") as handle:
                yield from pq.ParquetFile(handle).iter_batches(
                    batch_size=batch_size, columns=columns
                )

    def read(self, table: str, partition: str, columns: list[str] | None = None) -> pa.Table:
        """Read a whole partition into memory."""
        parts = self._parts(self.path(table, partition))
        if not parts:
            raise FileNotFoundError(f"no data for table {table!r} partition {partition!r}")
        tables = []
        for part in parts:
            with self.fs.open(part, "rb") as handle:
                tables.append(pq.read_table(handle, columns=columns))
        return pa.concat_tables(tables)

    def count_rows(self, table: str, partition: str) -> int:
        """Row count from Parquet footers, without reading data."""
        total = 0
        for part in self._parts(self.path(table, partition)):
            with self.fs.open(part, "rb") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        return total

    def write_bytes(self, relative_path: str, data: bytes) -> str:
        """Write a small file (a preview, a report) under the root atomically; return its path."""
        path = posixpath.join(self.root, relative_path)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with self.fs.open(temporary, "wb") as handle:
            handle.write(data)
        self.fs.mv(temporary, path)
        return path

    def delete(self, table: str, partition: str) -> None:
        """Remove a partition if it exists, and its table's folder once it is empty."""
        folder = self.path(table, partition)
        if self.fs.exists(folder):
            self.fs.rm(folder, recursive=True)
        table_folder = posixpath.join(self.root, table)
        if self.fs.exists(table_folder) and not self.fs.ls(table_folder, detail=False):
            self.fs.rmdir(table_folder)

    def _parts(self, folder: str) -> list[str]:
        if not self.fs.exists(folder):
            return []
        return sorted(p for p in self.fs.ls(folder, detail=False) if p.endswith(".parquet"))

    def _commit(self, staging: str, final: str) -> None:
        old = f"{final}.old-{uuid.uuid4().hex[:8]}"
        if self.fs.exists(final):
            self.fs.mv(final, old, recursive=True)
        self.fs.mv(staging, final, recursive=True)
        if self.fs.exists(old):
            self.fs.rm(old, recursive=True)


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


class PartitionWriter:
    """Writes one partition in parts into a staging folder; commits on a clean exit.

    The content hash covers the rows in write order (the Arrow IPC stream of each part, streamed
    into the hash without a copy), so a deterministic pipeline gives the same hash on every
    re-materialization regardless of Parquet file metadata.
    """

    def __init__(
        self,
        lake: Lake,
        table: str,
        partition: str,
        schema: pa.Schema,
        rows_per_part: int,
        bytes_per_part: int,
    ) -> None:
        self.lake = lake
        self.schema = schema
        self.rows_per_part = rows_per_part
        self.bytes_per_part = bytes_per_part
        self.final = lake.path(table, partition)
        self.staging = posixpath.join(
            lake.root, table, f".staging-{partition}-{uuid.uuid4().hex[:8]}"
        )
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._parts = 0
        self._rows = 0
        self._hash = hashlib.sha256()
        self.summary: WriteSummary | None = None

    def __enter__(self) -> PartitionWriter:
        self.lake.fs.makedirs(self.staging, exist_ok=True)
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
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        with pa.ipc.new_stream(pa.PythonFile(_HashSink(self._hash), mode="w"), self.schema) as ipc:
            for batch in self._pending:
                ipc.write_batch(batch)
        path = posixpath.join(self.staging, f"part-{self._parts:05d}.parquet")
        with self.lake.fs.open(path, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
        self._parts += 1
        self._rows += table.num_rows
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.lake.fs.rm(self.staging, recursive=True)
            return
        self._flush()
        if self._parts == 0:  # an empty partition still gets one file carrying the schema
            path = posixpath.join(self.staging, "part-00000.parquet")
            with self.lake.fs.open(path, "wb") as handle:
                pq.write_table(self.schema.empty_table(), handle)
            self._parts = 1
        self.lake._commit(self.staging, self.final)
        self.summary = WriteSummary(self.final, self._rows, self._parts, self._hash.hexdigest())
