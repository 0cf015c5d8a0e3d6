"""The lake at survey scale: synthetic 128 px galaxies through curation and the training loader.

Curation, at a tenth of ``--curate-rows`` and at ``--curate-rows``: ``raw_images`` of synthetic
galaxies (a few rendered bases, shifted and re-noised: cheap and never duplicates), then
``curated_images`` (decode, validate, frame, split, PNG). The loader, at a tenth of ``--rows`` and
at ``--rows``: ``training_pairs`` made of the curated rows (cycled under new ids up to the size,
one caption a row) and the same pairs as one Parquet file; the training loader
(``PairsDataset``, batch 64, a shuffled epoch, decoded and cropped to tensors) then reads from
the Lance table by row index, and from the Parquet file the way it read before Lance (the whole
partition as Python rows). Each stage runs in a fresh process so its peak resident memory is its
own. Rates are given per wall-clock second and per CPU-second of the stage's process (on a
shared machine the second is the stable one). Results go to ``bench/results/lake.json``,
rewritten after every stage.

    nice -n 10 python bench/lake.py                         # 100k rows through both
    nice -n 10 python bench/lake.py --curate-rows 10000     # loader at 100k, curation at 10k
    python bench/lake.py --quick                            # 200 and 2,000 rows
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "lake.json"
SIDE = 128
BASES = 40
VARIANTS = 8
BATCH = 64


def _synthetic_raw(lake_root: str, rows: int, seed: int = 0) -> None:
    """``rows`` raw items: shifted, re-noised copies of ``BASES`` rendered galaxies, as npy."""
    from cosmoalign.imaging import npy_bytes, to_rgb8
    from cosmoalign.lake import Lake
    from cosmoalign.schema import RAW_SCHEMA, RAW_TABLE
    from cosmoalign.sources.embedded import NANOMAGGIES_PER_SKY_SIGMA
    from cosmoalign.sources.procedural import render_galaxy, sample_params

    rng = np.random.default_rng(seed)
    pool = []  # VARIANTS shifted, re-noised copies of each base; a row stamps its index on one
    for index in range(BASES):
        galaxy_rng = np.random.default_rng([seed, index])
        flux = render_galaxy(sample_params(index % 10, SIDE, galaxy_rng), SIDE, galaxy_rng)
        base = to_rgb8(flux * NANOMAGGIES_PER_SKY_SIGMA, "grz").astype(np.int16)
        for _ in range(VARIANTS):
            image = np.roll(base, rng.integers(-6, 7, 2), axis=(0, 1))
            image = image + rng.integers(0, 4, image.shape, dtype=np.int16)
            pool.append(np.clip(image, 0, 255).astype(np.uint8))
    with Lake(lake_root).writer(RAW_TABLE, "bench", RAW_SCHEMA) as writer:
        for start in range(0, rows, 512):
            batch = []
            for index in range(start, min(start + 512, rows)):
                image = pool[index % len(pool)].copy()
                image[0, :3, 0] = [index % 256, index // 256 % 256, index // 65536]  # unique
                label = index % len(pool) // VARIANTS % 10
                batch.append(
                    {
                        "object_id": f"bench-{index}",
                        "source": "bench",
                        "label": label,
                        "label_name": f"class {label}",
                        "payload": npy_bytes(image),
                        "payload_format": "npy",
                    }
                )
            writer.write_rows(batch)


def _pairs(curated_root: str, lake_root: str, parquet_path: str, rows: int) -> int:
    """``rows`` training pairs cycled from the curated rows under new ids (one caption a row)
    into ``training_pairs`` and one Parquet file, a batch at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cosmoalign.lake import Lake
    from cosmoalign.pairs import PAIR_SCHEMA, normalise_box
    from cosmoalign.schema import CURATED_TABLE, PAIRS_TABLE

    columns = ["split", "label", "label_name", "image_png", "width", "height", "frame"]
    curated = Lake(curated_root)
    Path(lake_root).mkdir(parents=True, exist_ok=True)
    written = 0
    with (
        Lake(lake_root).writer(PAIRS_TABLE, "bench", PAIR_SCHEMA) as writer,
        pq.ParquetWriter(parquet_path, PAIR_SCHEMA, compression="zstd") as parquet,
    ):
        while written < rows:
            for batch in curated.iter_batches(CURATED_TABLE, "bench", columns, batch_size=512):
                out = [
                    {
                        "object_id": f"pair-{written + i}",
                        **{k: row[k] for k in ("split", "label", "label_name", "image_png")},
                        "frame": normalise_box(row["frame"], row["width"], row["height"]),
                        "caption": f"a galaxy of {row['label_name']}",
                        "symbol_key": None,
                        "region_boxes": [],
                        "region_texts": [],
                    }
                    for i, row in enumerate(batch.to_pylist()[: rows - written])
                ]
                table = pa.Table.from_pylist(out, schema=PAIR_SCHEMA)
                writer.write_table(table)
                parquet.write_table(table)
                written += len(out)
                if written >= rows:
                    break
    return written


def _loader_rate(dataset, samples: int) -> tuple[int, float, float]:
    """Decode ``samples`` rows of one shuffled epoch through the loader; (rows, seconds,
    CPU seconds)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=BATCH, shuffle=True, generator=generator, collate_fn=_stack
    )
    start, cpu_start, done = time.perf_counter(), _cpu_seconds(), 0
    for images in loader:
        done += len(images)
        if done >= samples:
            break
    return done, time.perf_counter() - start, _cpu_seconds() - cpu_start


def _stack(items: list[dict]):
    import torch

    return torch.stack([item["image"] for item in items])


def _preprocess():
    from torchvision import transforms

    return transforms.Compose([transforms.Resize((96, 96)), transforms.ToTensor()])


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stage(name: str, lake_root: str, curated_root: str, rows: int, samples: int, queue) -> None:
    import torch
    import torchvision  # noqa: F401  (imports are not part of any stage's time)

    import cosmoalign.ingest
    import cosmoalign.train.data  # noqa: F401

    torch.set_num_threads(1)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    result: dict = {}
    parquet_path = str(Path(lake_root) / "training_pairs.parquet")
    kwargs = {"augment": True, "seed": 0, "max_regions": 0, "preprocess": _preprocess()}
    if name == "raw_images":
        _synthetic_raw(lake_root, rows)
        result["rows"] = rows
    elif name == "curated_images":
        from cosmoalign.ingest import curate_partition
        from cosmoalign.lake import Lake

        result["rows"] = curate_partition(Lake(lake_root), "bench", workers=2).images.rows
    elif name == "training_pairs":
        result["rows"] = _pairs(curated_root, lake_root, parquet_path, rows)
    elif name == "loader_lance":
        from cosmoalign.lake import Lake
        from cosmoalign.train.data import PairsDataset

        dataset = PairsDataset.from_lake(Lake(lake_root), "bench", with_symbol=False, **kwargs)
        result["dataset_rows"] = len(dataset)
        result["rows"], result["loader_seconds"], result["loader_cpu"] = _loader_rate(
            dataset, samples
        )
    elif name == "loader_parquet":
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        from cosmoalign.train.data import PairsDataset

        table = pq.read_table(parquet_path)  # the loader before Lance: the partition as rows
        rows_list = table.filter(pc.equal(table.column("split"), "train")).to_pylist()
        del table
        dataset = PairsDataset(rows_list, **kwargs)
        result["dataset_rows"] = len(dataset)
        result["rows"], result["loader_seconds"], result["loader_cpu"] = _loader_rate(
            dataset, samples
        )
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = _cpu_seconds() - cpu_start
    result["rows_per_second"] = result["rows"] / result.pop("loader_seconds", result["seconds"])
    result["rows_per_cpu_second"] = result["rows"] / result.pop("loader_cpu", result["cpu_seconds"])
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def run_stage(
    name: str, lake_root: Path, rows: int, samples: int = 0, curated_root: Path | None = None
) -> dict:
    """Run one stage in a fresh process; return its rows, seconds, rows/s and peak RSS."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args = (name, str(lake_root), str(curated_root or lake_root), rows, samples, queue)
    process = context.Process(target=_stage, args=args)
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"stage {name} exited with {process.exitcode}")
    print(
        f"  {name}: {result['rows']} rows, {result['rows_per_second']:.1f} rows/s "
        f"({result['rows_per_cpu_second']:.1f} per CPU-second), "
        f"peak RSS {result['peak_rss_mib']:.0f} MiB ({result['seconds']:.0f} s)",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="the loader's larger size")
    parser.add_argument(
        "--curate-rows", type=int, default=0, help="curation's larger size (default --rows)"
    )
    parser.add_argument("--quick", action="store_true", help="200 and 2,000 rows")
    parser.add_argument(
        "--loader-samples", type=int, default=5_000, help="rows decoded per loader run"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = 2_000 if args.quick else args.rows
    curate_rows = 2_000 if args.quick else args.curate_rows or rows
    result = {
        "benchmark": "lake",
        "image_side": SIDE,
        "batch_size": BATCH,
        "loader_samples": args.loader_samples,
        "curation": {},
        "loader": {},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg()[0],
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)

    def record(part: str, size: int, name: str, stage: dict) -> None:
        result[part].setdefault(str(size), {})[name] = stage
        args.output.write_text(json.dumps(result, indent=2) + "\n")  # partial results

    with tempfile.TemporaryDirectory(prefix="cosmoalign-bench-lake-") as tmp:
        for size in (curate_rows // 10, curate_rows):
            print(f"curation, {size} rows", flush=True)
            curated = Path(tmp) / f"curated-{size}"
            for name in ("raw_images", "curated_images"):
                record("curation", size, name, run_stage(name, curated, size))
        for size in (rows // 10, rows):
            print(f"loader, {size} rows", flush=True)
            lake_root = Path(tmp) / f"pairs-{size}"
            samples = min(args.loader_samples, size)
            for name in ("training_pairs", "loader_lance", "loader_parquet"):
                record("loader", size, name, run_stage(name, lake_root, size, samples, curated))
            shutil.rmtree(lake_root)
    print(f"results in {args.output}")


if __name__ == "__main__":
    main()
