"""Vector search at survey scale: clustered synthetic embeddings written to the lake's
``embeddings`` table and indexed (IVF-PQ, cosine) on 2 cores, exactly as the ``embeddings`` asset
does it; then query latency (p50/p95 over single queries) and recall@k against exact search
(brute force in numpy) for several ``nprobes``, re-ranking ``refine_factor`` x k candidates.
Writes ``bench/results/search.json``::

    nice -n 10 python bench/search.py [--rows 100000] [--dim 256] [--queries 200] [--k 20]

The vectors mimic galaxy embeddings: 1,000 clusters of Zipf-distributed sizes and varied
spread, L2-normalised; queries are held-out draws from the same clusters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

THREADS = 2
os.environ.setdefault("LANCE_CPU_THREADS", str(THREADS))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from cosmoalign.lake import Lake  # noqa: E402
from cosmoalign.models.configs import OFFLINE_EMBED_DIM  # noqa: E402
from cosmoalign.schema import EMBEDDINGS_TABLE  # noqa: E402
from cosmoalign.search.index import (  # noqa: E402
    NPROBES,
    REFINE_FACTOR,
    EmbeddingIndex,
    build_vector_index,
    embeddings_schema,
    vector_array,
)

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
CLUSTERS = 1000
SWEEP = (8, 16, 32, 64)


def clustered(rows: int, queries: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, dim) indexed vectors and (queries, dim) held-out ones from the same clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, CLUSTERS + 1)
    spread = rng.uniform(0.5, 1.5, CLUSTERS).astype(np.float32) / np.sqrt(dim)

    def draw(n: int) -> np.ndarray:
        which = rng.choice(CLUSTERS, size=n, p=weights / weights.sum())
        noise = rng.normal(size=(n, dim)).astype(np.float32) * spread[which, None]
        vectors = centres[which] + noise
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return draw(rows), draw(queries)


def write(lake: Lake, vectors: np.ndarray, chunk: int = 8192) -> float:
    """Write the vectors as the lake's embeddings table; seconds taken."""
    schema = embeddings_schema(vectors.shape[1], {"model": "synthetic"})
    started = time.perf_counter()
    with lake.writer(EMBEDDINGS_TABLE, "bench", schema) as writer:
        for start in range(0, len(vectors), chunk):
            part = vectors[start : start + chunk]
            n = len(part)
            writer.write_table(
                pa.table(
                    {
                        "object_id": [f"obj-{start + i}" for i in range(n)],
                        "label_name": pa.nulls(n, pa.string()),
                        "split": pa.nulls(n, pa.string()),
                        "thumbnail": pa.nulls(n, pa.binary()),
                        "vector": vector_array(part),
                    },
                    schema=schema,
                )
            )
    return time.perf_counter() - started


def measure(index: EmbeddingIndex, queries: np.ndarray, truth: list[set], k: int, nprobes: int):
    """Latency percentiles (ms) and mean recall@k of single queries."""
    index.search(queries[0], k, nprobes=nprobes)  # warm the index cache
    latencies, recalls = [], []
    for query, exact in zip(queries, truth, strict=True):
        started = time.perf_counter()
        found = index.search(query, k, nprobes=nprobes, columns=("object_id",))
        latencies.append(1000 * (time.perf_counter() - started))
        recalls.append(len(exact & set(found["object_id"].to_pylist())) / k)
    return {
        "nprobes": nprobes,
        "refine_factor": REFINE_FACTOR,
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        f"recall_at_{k}": round(float(np.mean(recalls)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=OFFLINE_EMBED_DIM)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    vectors, queries = clustered(args.rows, args.queries, args.dim)

    started = time.perf_counter()
    exact_ids = []
    exact_ms = []
    for query in queries:
        t0 = time.perf_counter()
        top = np.argpartition(-(vectors @ query), args.k)[: args.k]
        exact_ms.append(1000 * (time.perf_counter() - t0))
        exact_ids.append({f"obj-{i}" for i in top})
    exact_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as scratch:
        lake = Lake(scratch)
        write_seconds = write(lake, vectors)
        summary = build_vector_index(lake.dataset(EMBEDDINGS_TABLE, "bench"))
        index = EmbeddingIndex.open(lake, "bench")
        sweep = [measure(index, queries, exact_ids, args.k, n) for n in SWEEP]

    default = next(row for row in sweep if row["nprobes"] == NPROBES)
    results = {
        "rows": args.rows,
        "dim": args.dim,
        "clusters": CLUSTERS,
        "queries": args.queries,
        "k": args.k,
        "threads": THREADS,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "index": {
            "type": summary.index_type,
            "num_partitions": summary.num_partitions,
            "num_sub_vectors": summary.num_sub_vectors,
            "metric": "cosine",
        },
        "write_seconds": round(write_seconds, 2),
        "index_build_seconds": round(summary.index_seconds, 2),
        "exact_numpy_p50_ms": round(float(np.percentile(exact_ms, 50)), 2),
        "exact_numpy_p95_ms": round(float(np.percentile(exact_ms, 95)), 2),
        "exact_numpy_total_seconds": round(exact_seconds, 2),
        "default": default,
        "sweep": sweep,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
