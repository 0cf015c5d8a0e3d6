"""The Lance embeddings index: IVF-PQ on partitions big enough, exact scans below, and a lake
partition of real galaxies searched through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import lance
import numpy as np
import pyarrow as pa
import pytest

from cosmoalign.framing import measure_frame
from cosmoalign.imaging import decode_payload, encode_png
from cosmoalign.lake import Lake
from cosmoalign.models import ClipBundle, ModelSpec, build_model, export_open_clip
from cosmoalign.schema import CURATED_TABLE, EMBEDDINGS_TABLE, IMAGE_SCHEMA, ORIGINAL
from cosmoalign.search import EmbeddingIndex, embed_partition
from cosmoalign.search.__main__ import main
from cosmoalign.search.index import (
    MIN_INDEXED_ROWS,
    build_vector_index,
    embeddings_schema,
    vector_array,
)

PARTITION = "real"


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 20 random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    vectors = centres[rng.integers(0, 20, n)] + 0.4 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def write_vectors(uri: str, vectors: np.ndarray) -> lance.LanceDataset:
    ids = [f"obj-{i}" for i in range(len(vectors))]
    table = pa.table(
        {
            "object_id": ids,
            "label_name": [None] * len(ids),
            "split": ["train"] * len(ids),
            "thumbnail": pa.nulls(len(ids), pa.binary()),
            "vector": vector_array(vectors),
        },
        schema=embeddings_schema(vectors.shape[1], {"model": "none"}),
    )
    return lance.write_dataset(table, uri)


def test_ivf_pq_index_finds_the_exact_neighbours(tmp_path: Path) -> None:
    vectors = clustered(MIN_INDEXED_ROWS + 500, 32)
    summary = build_vector_index(write_vectors(str(tmp_path / "big.lance"), vectors))
    assert summary.index_type == "IVF_PQ" and summary.rows == len(vectors)
    assert summary.num_partitions == round(np.sqrt(len(vectors))) and summary.num_sub_vectors == 8
    index = EmbeddingIndex(lance.dataset(summary.uri))
    assert index.indexed and index.metadata == {"model": "none"}
    recall = []
    for q in range(0, len(vectors), 97):
        found = index.search(vectors[q], 10)
        exact = np.argsort(-(vectors @ vectors[q]))[:10]
        assert found["object_id"][0].as_py() == f"obj-{q}"
        assert found["score"][0].as_py() == pytest.approx(1.0, abs=1e-4)
        recall.append(len({f"obj-{i}" for i in exact} & set(found["object_id"].to_pylist())))
    assert np.mean(recall) / 10 >= 0.9


def test_small_partitions_are_scanned_exactly(tmp_path: Path) -> None:
    vectors = clustered(300, 16, seed=1)
    summary = build_vector_index(write_vectors(str(tmp_path / "small.lance"), vectors))
    assert summary.index_type is None
    index = EmbeddingIndex(lance.dataset(summary.uri))
    assert not index.indexed
    query = clustered(1, 16, seed=2)[0]
    found = index.search(query, 7)
    exact = np.argsort(-(vectors @ query))[:7]
    assert found["object_id"].to_pylist() == [f"obj-{i}" for i in exact]
    np.testing.assert_allclose(found["score"].to_numpy(), (vectors @ query)[exact], atol=1e-5)
    with pytest.raises(KeyError, match="obj-999"):
        index.vector_of("obj-999")
    with pytest.raises(ValueError, match="16"):
        index.search(np.ones(8, np.float32), 3)


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory, galaxies: Path) -> str:
    """A lake whose curated partition holds 12 of the real galaxies with their measured frames."""
    root = str(tmp_path_factory.mktemp("lake"))
    rows = []
    for path in [*sorted(galaxies.glob("*/*.jpg"))[:6], *sorted(galaxies.glob("*/*.jpg"))[-6:]]:
        rgb = decode_payload(path.read_bytes(), "jpeg")
        rows.append(
            {
                "object_id": f"gz-{path.stem}",
                "source": "gz",
                "split": "test",
                "label": 0 if path.parent.name == "non_spirals" else 1,
                "label_name": path.parent.name,
                "ra": None,
                "dec": None,
                "image_png": encode_png(rgb),
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "frame": list(measure_frame(rgb)),
                "bands": "rgb",
                "provenance": ORIGINAL,
            }
        )
    Lake(root).write_table(CURATED_TABLE, PARTITION, pa.Table.from_pylist(rows, IMAGE_SCHEMA))
    return root


@pytest.fixture(scope="module")
def indexed_lake(real_lake: str, offline_export: Path, offline: ClipBundle):
    """The real lake with its partition embedded by the offline default."""
    return embed_partition(Lake(real_lake), PARTITION, offline, f"local-dir:{offline_export}")


def test_lake_partition_is_embedded_and_searched_by_object_id_and_text(
    capsys, real_lake: str, indexed_lake, offline_export: Path, offline: ClipBundle
) -> None:
    spec = f"local-dir:{offline_export}"
    written, summary = indexed_lake
    assert summary.uri == written.path == Lake(real_lake).path(EMBEDDINGS_TABLE, PARTITION)
    assert (written.rows, summary.rows, summary.dim, summary.index_type) == (12, 12, 256, None)
    index = EmbeddingIndex.open(Lake(real_lake), PARTITION)
    assert index.metadata["model"] == spec

    stored = index.dataset.to_table(columns=["object_id", "label_name"]).to_pylist()
    target = stored[-1]
    argv = ["--lake", real_lake, "--partition", PARTITION, "--json", "--k", "4"]
    assert main([*argv, "--image", target["object_id"]]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["id"] == target["object_id"]
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert hits[0]["label"] == target["label_name"] == "spirals"

    assert main([*argv, "--text", "an edge-on disk galaxy"]) == 0
    found = json.loads(capsys.readouterr().out)
    ids, vectors = index.vectors()
    from cosmoalign.search.run import text_vector

    scores = vectors @ text_vector(offline, "an edge-on disk galaxy")
    assert [h["id"] for h in found["hits"]] == [ids[i] for i in np.argsort(-scores)[:4]]
    assert found["model"] == spec


def test_a_query_from_another_model_is_refused(
    capsys, tmp_path: Path, real_lake: str, indexed_lake
) -> None:
    other = export_open_clip(build_model(ModelSpec("tiny")), tmp_path / "tiny")
    argv = ["--lake", real_lake, "--partition", PARTITION, "--model", str(other)]
    assert main([*argv, "--text", "a spiral galaxy"]) == 2
    assert "was embedded with local-dir:" in capsys.readouterr().err
    assert main(["--lake", str(tmp_path), "--partition", PARTITION, "--image", "gz-1"]) == 2
    assert "materialize the embeddings asset" in capsys.readouterr().err
