"""Sharded surveys: a dataset cut into shards that ingest, curate and caption in parallel.

A shard is named by its scheme:

- ``hpx<order>-<pixel>``: a HEALPix pixel (nested scheme, ``nside = 2**order``) of the catalog
  position, the convention of MultimodalUniverse and HATS catalogs; items without a position
  cannot be placed and raise an error naming the object.
- ``ids<count>-<index>``: one of ``count`` slices of a stable hash of the object id, for sets
  without positions.

A shard's rows live in lake partitions named ``<dataset>.<shard>`` (the shard's own Lance
datasets, so shards commit independently). The dataset's *shard plan* (the ``shard_plan``
table, partition ``<dataset>``) lists its shards; a dataset without a plan is one partition,
as on a single machine. Dataset-level stages (balancing, symbols, training pairs, search) read
:func:`dataset_partitions`, which is every shard of the plan or the dataset itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.sources.base import RawItem, Source

SHARD_PLAN_TABLE = "shard_plan"
SHARD_PLAN_SCHEMA = pa.schema([pa.field("shard", pa.string(), nullable=False)])
SCHEMES = ("hpx", "ids")
MAX_HEALPIX_ORDER = 12
_KEY = re.compile(r"^(hpx|ids)(\d+)-(\d+)$")


@dataclass(frozen=True)
class Shard:
    """One shard of a dataset: a HEALPix pixel or a slice of the object-id hash."""

    scheme: str
    level: int
    """HEALPix order for ``hpx``, slice count for ``ids``."""
    index: int

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"shard scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.scheme == "hpx" and not 0 <= self.level <= MAX_HEALPIX_ORDER:
            raise ValueError(f"HEALPix order must be 0..{MAX_HEALPIX_ORDER}, got {self.level}")
        if self.scheme == "ids" and self.level < 1:
            raise ValueError(f"an id-range shard needs a count of at least 1, got {self.level}")
        if not 0 <= self.index < shard_count(self.scheme, self.level):
            raise ValueError(f"shard index {self.index} out of range for {self.scheme}{self.level}")

    @property
    def key(self) -> str:
        """The shard's name in partition keys and lake partitions."""
        return f"{self.scheme}{self.level}-{self.index}"

    @classmethod
    def parse(cls, key: str) -> Shard:
        """The shard a key names (``hpx3-417``, ``ids8-0``)."""
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"{key!r} is not a shard key (hpx<order>-<pixel> or ids<count>-<i>)")
        scheme, level, index = match.groups()
        return cls(scheme, int(level), int(index))

    def contains(self, item: RawItem) -> bool:
        """Whether the item belongs to this shard."""
        return shard_index(self.scheme, self.level, item) == self.index


def shard_count(scheme: str, level: int) -> int:
    """How many shards the scheme has at this level (``12 * 4**order`` HEALPix pixels)."""
    return 12 * 4**level if scheme == "hpx" else level


def shard_index(scheme: str, level: int, item: RawItem) -> int:
    """The index of the shard holding ``item`` under the scheme."""
    if scheme == "ids":
        digest = hashlib.sha256(item.object_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % level
    if item.ra is None or item.dec is None:
        raise ValueError(
            f"{item.object_id} ({item.source_file}) has no sky position, so it has no HEALPix "
            "shard; cut position-less sets by id (ids<count>)"
        )
    return healpix_pixel(item.ra, item.dec, level)


def healpix_pixel(ra: float, dec: float, order: int) -> int:
    """The nested HEALPix pixel of (``ra``, ``dec``) in degrees at ``order``."""
    import astropy.units as u
    from astropy_healpix import HEALPix

    grid = HEALPix(nside=2**order, order="nested")
    return int(grid.lonlat_to_healpix(ra * u.deg, dec * u.deg))


def lake_partition(dataset: str, shard: str | None) -> str:
    """The lake partition of a dataset's shard (the dataset itself when ``shard`` is None)."""
    return dataset if shard is None else f"{dataset}.{Shard.parse(shard).key}"


def shard_keys(items: Iterable[RawItem], scheme: str, level: int) -> list[str]:
    """The shards of a scheme that hold at least one item, in index order (every slice for
    ``ids``: id slices are never empty in practice and need no pass over the data)."""
    if scheme == "ids":
        return [Shard(scheme, level, i).key for i in range(level)]
    Shard(scheme, level, 0)  # validates the scheme and level
    present = {shard_index(scheme, level, item) for item in items}
    return [Shard(scheme, level, i).key for i in sorted(present)]


def write_shard_plan(lake: Lake, dataset: str, keys: list[str]) -> WriteSummary:
    """Record the dataset's shards (an empty list makes it one partition again)."""
    for key in keys:
        Shard.parse(key)
    table = pa.table({"shard": pa.array(keys, pa.string())}, schema=SHARD_PLAN_SCHEMA)
    return lake.write_table(SHARD_PLAN_TABLE, dataset, table)


def shard_plan(lake: Lake, dataset: str) -> list[str]:
    """The dataset's shard keys; empty when it is not sharded."""
    if not lake.exists(SHARD_PLAN_TABLE, dataset):
        return []
    return lake.read(SHARD_PLAN_TABLE, dataset, ["shard"]).column("shard").to_pylist()


def dataset_partitions(lake: Lake, dataset: str) -> list[str]:
    """The lake partitions holding a dataset's rows: one per shard, or the dataset itself."""
    return [lake_partition(dataset, key) for key in shard_plan(lake, dataset)] or [dataset]


def read_dataset(
    lake: Lake, table: str, dataset: str, columns: list[str] | None = None
) -> pa.Table:
    """A table's rows of every partition of the dataset, shard after shard."""
    parts = [
        lake.read(table, partition, columns) for partition in dataset_partitions(lake, dataset)
    ]
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def iter_dataset_batches(
    lake: Lake, table: str, dataset: str, columns: list[str] | None = None, batch_size: int = 1024
) -> Iterator[pa.RecordBatch]:
    """Stream a table's rows of every partition of the dataset, shard after shard."""
    for partition in dataset_partitions(lake, dataset):
        yield from lake.iter_batches(table, partition, columns, batch_size)


def write_to_shards(
    lake: Lake, table_name: str, dataset: str, data: pa.Table, home_table: str
) -> WriteSummary:
    """Write a dataset-level result (balanced images) to the shard of the object each row shows.

    A row goes to the partition of ``home_table`` (curated images) that holds its original
    (:func:`~cosmoalign.balance.original_id`), so a shard's later stages find its rows in its
    own partitions. Unsharded, the rows are the dataset's one partition. The summary covers
    every shard, its content hash the hash of the shards' hashes in plan order."""
    from cosmoalign.balance import original_id

    partitions = dataset_partitions(lake, dataset)
    if partitions == [dataset]:
        return lake.write_table(table_name, dataset, data)
    home = {
        object_id: partition
        for partition in partitions
        for object_id in lake.read(home_table, partition, ["object_id"]).column(0).to_pylist()
    }
    targets = pa.array([home[original_id(i)] for i in data.column("object_id").to_pylist()])
    summaries = [
        lake.write_table(table_name, partition, data.filter(pc.equal(targets, partition)))
        for partition in partitions
    ]
    combined = hashlib.sha256("".join(s.content_hash for s in summaries).encode()).hexdigest()
    folder = summaries[0].path.rsplit("/", 1)[0]
    return WriteSummary(
        folder, sum(s.rows for s in summaries), sum(s.parts for s in summaries), combined
    )


class ShardSource:
    """A source seen through one shard: the items of the shard, the class names of the whole."""

    def __init__(self, source: Source, shard: Shard) -> None:
        self.source, self.shard = source, shard
        self.name = source.name

    def class_names(self) -> list[str]:
        """The whole dataset's class names (labels mean the same in every shard)."""
        return self.source.class_names()

    def iter_items(self) -> Iterator[RawItem]:
        """The source's items that fall in the shard."""
        return (item for item in self.source.iter_items() if self.shard.contains(item))


def main(argv: list[str] | None = None) -> None:
    """``python -m cosmoalign.shards DATASET``: the dataset's shards, one per line, or with
    ``--backfill`` as the comma-separated partition keys that ``dagster job backfill`` takes."""
    import argparse

    from cosmoalign.lake import default_lake_root

    parser = argparse.ArgumentParser(description=main.__doc__.split(":")[0])
    parser.add_argument("dataset")
    parser.add_argument("--lake", default=None, help="lake root (default $COSMOALIGN_HOME)")
    parser.add_argument("--backfill", action="store_true", help="dataset|shard keys, commas")
    args = parser.parse_args(argv)
    keys = shard_plan(Lake(args.lake or default_lake_root()), args.dataset)
    if not keys:
        raise SystemExit(f"{args.dataset} has no shard plan: run the plan_shards job first")
    if args.backfill:
        print(",".join(f"{args.dataset}|{key}" for key in keys))
    else:
        print("\n".join(keys))


if __name__ == "__main__":
    main()
