"""Ingest throughput and peak memory: a Galaxy10-format HDF5 into the lake.

Writes a Galaxy10 DECaLS-format HDF5 (``images`` (N, 256, 256, 3) uint8, ``ans``, ``ra``, ``dec``,
``redshift``, ``pxscale``) of procedural galaxies, then runs ``raw_images`` (HDF5 -> lake) and
``curated_images`` (decode, validate, dedupe, split, PNG) each in a fresh process so each stage's
peak resident memory is its own. Results go to ``bench/results/ingest.json``.

    python bench/ingest.py --images 5000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cosmoalign.imaging import to_rgb8
from cosmoalign.sources.embedded import NANOMAGGIES_PER_SKY_SIGMA
from cosmoalign.sources.procedural import render_galaxy, sample_params

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
SIDE = 256
BASES = 50  # distinct rendered galaxies; every image is a shifted, re-noised variant of one


def write_galaxy10_h5(path: Path, n_images: int, seed: int = 0, chunk: int = 500) -> None:
    """Write an HDF5 with Galaxy10 DECaLS's keys, shapes and dtypes, ``chunk`` rows at a time."""
    import h5py

    rng = np.random.default_rng(seed)
    bases, labels = [], []
    for index in range(BASES):
        class_id = index % 10
        galaxy_rng = np.random.default_rng([seed, class_id, index])
        flux = render_galaxy(sample_params(class_id, SIDE, galaxy_rng), SIDE, galaxy_rng)
        bases.append(to_rgb8(flux * NANOMAGGIES_PER_SKY_SIGMA, "grz"))
        labels.append(class_id)
    with h5py.File(path, "w") as handle:
        images = handle.create_dataset("images", (n_images, SIDE, SIDE, 3), np.uint8)
        for start in range(0, n_images, chunk):
            stop = min(start + chunk, n_images)
            block = np.empty((stop - start, SIDE, SIDE, 3), np.uint8)
            for row, index in enumerate(range(start, stop)):
                shifted = np.roll(bases[index % BASES], rng.integers(-8, 9, 2), axis=(0, 1))
                noise = rng.integers(0, 3, shifted.shape, dtype=np.uint8)
                block[row] = np.clip(shifted.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            images[start:stop] = block
        handle["ans"] = np.array([labels[i % BASES] for i in range(n_images)], np.uint8)
        handle["ra"] = rng.uniform(0, 360, n_images)
        handle["dec"] = rng.uniform(-10, 60, n_images)
        handle["redshift"] = handle["dec"][:]  # the upstream file's known bug, reproduced
        handle["pxscale"] = np.full(n_images, 0.262)


def _stage(name: str, h5_path: str, lake_root: str, queue: multiprocessing.Queue) -> None:
    from cosmoalign.ingest import curate_partition, ingest_source
    from cosmoalign.lake import Lake
    from cosmoalign.sources.galaxy10 import Galaxy10Source

    lake = Lake(lake_root)
    start = time.perf_counter()
    if name == "raw_images":
        source = Galaxy10Source(Path(lake_root) / "cache", h5_path=Path(h5_path))
        rows = ingest_source(source, lake, "bench").rows
    else:
        rows = curate_partition(lake, "bench").images.rows
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"rows": rows, "seconds": seconds, "peak_rss_mib": peak_mib})


def run_stage(name: str, h5_path: Path, lake_root: Path) -> dict:
    """Run one stage in a fresh process; return rows, seconds, images/s and peak RSS."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_stage, args=(name, str(h5_path), str(lake_root), queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"stage {name} exited with {process.exitcode}")
    result["images_per_second"] = result["rows"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cosmoalign-bench-") as tmp:
        h5_path = Path(tmp) / "Galaxy10_DECals.h5"
        start = time.perf_counter()
        write_galaxy10_h5(h5_path, args.images)
        print(f"wrote {args.images} images in {time.perf_counter() - start:.1f}s")
        stages = {}
        for name in ("raw_images", "curated_images"):
            stages[name] = run_stage(name, h5_path, Path(tmp) / "lake")
            print(
                f"{name}: {stages[name]['images_per_second']:.1f} images/s, "
                f"peak RSS {stages[name]['peak_rss_mib']:.0f} MiB"
            )
        result = {
            "benchmark": "ingest",
            "images": args.images,
            "image_shape": [SIDE, SIDE, 3],
            "hdf5_mib": h5_path.stat().st_size / 2**20,
            "dataset_in_memory_mib": args.images * SIDE * SIDE * 3 / 2**20,
            "stages": stages,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results in {args.output}")


if __name__ == "__main__":
    main()
