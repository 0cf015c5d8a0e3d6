import pyarrow as pa
import pytest

from cosmoalign.lake import Lake

SCHEMA = pa.schema([("object_id", pa.string()), ("value", pa.int64())])


def _rows(n: int, offset: int = 0) -> list[dict]:
    return [{"object_id": f"obj-{i}", "value": i + offset} for i in range(n)]


def test_parts_are_split_and_read_back_in_order(tmp_path):
    lake = Lake(str(tmp_path))
    with lake.writer("things", "p1", SCHEMA, rows_per_part=100) as writer:
        for start in range(0, 350, 50):
            writer.write_rows(_rows(50, start))
    assert writer.summary.parts == 4
    assert writer.summary.rows == 350
    assert sorted(p.name for p in (tmp_path / "things" / "p1").iterdir()) == [
        f"part-{i:05d}.parquet" for i in range(4)
    ]
    values = lake.read("things", "p1").column("value").to_pylist()
    assert values == [i + s for s in range(0, 350, 50) for i in range(50)]
    assert lake.count_rows("things", "p1") == 350


def test_same_content_same_hash_and_different_content_different_hash(tmp_path):
    lake = Lake(str(tmp_path))
    first = lake.write_table("t", "p", pa.Table.from_pylist(_rows(10), schema=SCHEMA))
    second = lake.write_table("t", "p", pa.Table.from_pylist(_rows(10), schema=SCHEMA))
    changed = lake.write_table("t", "p", pa.Table.from_pylist(_rows(10, 1), schema=SCHEMA))
    assert first.content_hash == second.content_hash
    assert changed.content_hash != first.content_hash


def test_failed_write_keeps_previous_partition(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_table("t", "p", pa.Table.from_pylist(_rows(5), schema=SCHEMA))
    with pytest.raises(RuntimeError, match="boom"), lake.writer("t", "p", SCHEMA) as writer:
        writer.write_rows(_rows(7, 100))
        raise RuntimeError("boom")
    assert lake.read("t", "p").column("value").to_pylist() == list(range(5))
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["p"]  # no staging left behind


def test_missing_partition_names_table_and_partition(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'t'.*'nope'"):
        list(Lake(str(tmp_path)).iter_batches("t", "nope"))


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
