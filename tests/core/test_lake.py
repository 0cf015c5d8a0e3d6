"""The lake on Lance: commits, versions, retention, merge-insert updates, other readers."""

from datetime import timedelta

import lance
import pyarrow as pa
import pytest

from cosmoalign.lake import Lake, LakeConflictError, Retention

SCHEMA = pa.schema([("object_id", pa.string()), ("value", pa.int64())])


def _rows(n: int, offset: int = 0) -> list[dict]:
    return [{"object_id": f"obj-{i}", "value": i + offset} for i in range(n)]


def _table(n: int, offset: int = 0) -> pa.Table:
    return pa.Table.from_pylist(_rows(n, offset), schema=SCHEMA)


def test_parts_are_split_and_read_back_in_order(tmp_path):
    lake = Lake(str(tmp_path))
    with lake.writer("things", "p1", SCHEMA, rows_per_part=100) as writer:
        for start in range(0, 350, 50):
            writer.write_rows(_rows(50, start))
    assert (writer.summary.parts, writer.summary.rows, writer.summary.version) == (4, 350, 1)
    dataset = lance.dataset(str(tmp_path / "things" / "p1.lance"))
    assert [f.count_rows() for f in dataset.get_fragments()] == [100, 100, 100, 50]
    values = lake.read("things", "p1").column("value").to_pylist()
    assert values == [i + s for s in range(0, 350, 50) for i in range(50)]
    assert lake.count_rows("things", "p1") == 350


def test_same_content_same_hash_and_different_content_different_hash(tmp_path):
    lake = Lake(str(tmp_path))
    first = lake.write_table("t", "p", _table(10))
    second = lake.write_table("t", "p", _table(10))
    changed = lake.write_table("t", "p", _table(10, 1))
    assert first.content_hash == second.content_hash
    assert changed.content_hash != first.content_hash
    assert [first.version, second.version, changed.version] == [1, 2, 3]


def test_every_version_stays_readable_with_the_hash_its_commit_recorded(tmp_path):
    lake = Lake(str(tmp_path))
    old = lake.write_table("t", "p", _table(3))
    new = lake.write_table("t", "p", _table(5, 10))
    assert lake.read("t", "p", version=old.version).column("value").to_pylist() == [0, 1, 2]
    assert lake.count_rows("t", "p") == 5
    assert lake.summary("t", "p", version=old.version) == old
    assert lake.summary("t", "p").content_hash == new.content_hash
    assert lake.versions("t", "p") == [1, 2]


def test_retention_removes_old_versions_and_names_them_when_read(tmp_path):
    lake = Lake(str(tmp_path), retention=Retention(keep_versions=2, keep_for=timedelta(0)))
    for offset in range(4):
        lake.write_table("t", "p", _table(3, offset))
    assert lake.versions("t", "p") == [3, 4]
    with pytest.raises(FileNotFoundError, match=r"version 1 .*retention"):
        lake.read("t", "p", version=1)
    kept = Lake(str(tmp_path / "kept"))  # the default keeps a day of versions
    for offset in range(7):
        kept.write_table("t", "p", _table(3, offset))
    assert kept.versions("t", "p") == list(range(1, 8))


def test_failed_write_keeps_previous_version(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_table("t", "p", _table(5))
    with pytest.raises(RuntimeError, match="boom"), lake.writer("t", "p", SCHEMA) as writer:
        writer.write_rows(_rows(7, 100))
        writer._flush()  # data files on disk, never committed
        raise RuntimeError("boom")
    assert lake.read("t", "p").column("value").to_pylist() == list(range(5))
    assert lake.versions("t", "p") == [1]


def test_missing_partition_names_table_and_partition(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'t'.*'nope'"):
        list(Lake(str(tmp_path)).iter_batches("t", "nope"))
    assert not Lake(str(tmp_path)).exists("t", "nope")
    with pytest.raises(ValueError, match="invalid"):
        Lake(str(tmp_path)).path("t", "../escape")


def test_empty_partition_keeps_schema(tmp_path):
    lake = Lake(str(tmp_path))
    with lake.writer("t", "empty", SCHEMA):
        pass
    table = lake.read("t", "empty")
    assert table.num_rows == 0
    assert table.schema.names == ["object_id", "value"]


def test_large_rows_flush_by_bytes_not_rows(tmp_path):
    schema = pa.schema([("object_id", pa.string()), ("blob", pa.large_binary())])
    lake = Lake(str(tmp_path))
    with lake.writer("blobs", "p", schema, rows_per_part=1000, bytes_per_part=3 * 2**20) as w:
        for i in range(10):
            w.write_rows([{"object_id": str(i), "blob": bytes([i]) * 2**20}])
    assert w.summary.parts == 4  # a part closes once its third 1 MiB row crosses 3 MiB
    assert lake.read("blobs", "p").column("object_id").to_pylist() == [str(i) for i in range(10)]


def test_merge_commits_only_changed_rows_and_deletes_rows_not_written(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_table("t", "p", _table(6))
    rows = _rows(6)
    rows[2]["value"] = 200
    del rows[4]
    rows.append({"object_id": "new", "value": 7})
    with lake.writer("t", "p", SCHEMA, merge_on="object_id") as writer:
        writer.write_rows(rows)
    dataset = lake.dataset("t", "p")
    operation = dataset.read_transaction(dataset.version).operation
    assert type(operation).__name__ == "Update"  # a merge-insert, not an overwrite
    stored = {row["object_id"]: row["value"] for row in lake.read("t", "p").to_pylist()}
    assert stored == {row["object_id"]: row["value"] for row in rows}
    rewritten = lake.write_table("t2", "p", pa.Table.from_pylist(rows, schema=SCHEMA))
    assert writer.summary.content_hash == rewritten.content_hash  # same rows, same data version

    with lake.writer("t", "p", SCHEMA, merge_on="object_id") as unchanged:
        unchanged.write_rows(rows)
    assert unchanged.summary.version == dataset.version  # nothing changed, nothing committed
    assert unchanged.summary.content_hash == writer.summary.content_hash


def test_two_merges_of_one_version_commit_one_and_fail_the_other_clearly(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_table("t", "p", _table(4))
    first = lake.writer("t", "p", SCHEMA, merge_on="object_id").__enter__()
    second = lake.writer("t", "p", SCHEMA, merge_on="object_id").__enter__()
    first.write_rows(_rows(4, 10))
    second.write_rows(_rows(4, 20))
    first.__exit__(None, None, None)
    with pytest.raises(LakeConflictError, match="t/p: another writer committed"):
        second.__exit__(None, None, None)
    assert lake.read("t", "p").column("value").to_pylist() == [10, 11, 12, 13]


def test_two_overwrites_of_one_partition_both_commit_in_order(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_table("t", "p", _table(1))
    first = lake.writer("t", "p", SCHEMA).__enter__()
    second = lake.writer("t", "p", SCHEMA).__enter__()
    first.write_rows(_rows(2, 10))
    second.write_rows(_rows(3, 20))
    second.__exit__(None, None, None)
    first.__exit__(None, None, None)
    assert (second.summary.version, first.summary.version) == (2, 3)
    assert lake.read("t", "p").column("value").to_pylist() == [10, 11]


def test_tables_are_readable_by_pyarrow_and_duckdb(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    lake = Lake(str(tmp_path))
    lake.write_table("t", "p", _table(5))
    dataset = lance.dataset(lake.path("t", "p"))
    assert dataset.to_table().equals(_table(5))
    assert duckdb.sql("SELECT count(*), sum(value) FROM dataset").fetchall() == [(5, 10)]
