"""Captioning throughput of each backend on this machine, and of the caption stages on real cutouts.

- ``real_sdss_cutouts``: ``--real`` (default 500; ``--quick`` 100) of the 423 px SDSS JPEGs in
  ``../shared/data/sdss-unlabelled``, ingested and curated into a scratch lake like a user's
  folder, then through the stages the pipeline runs: ``measurements`` (each galaxy segmented
  once, on ``--workers`` processes), ``captions`` (morphology, phrased from the measurements) and
  ``regions`` (boxes copied from them). Rows per wall-clock second of the three together, time
  per stage, and CPU-seconds per row (main process and workers: stable on a shared machine);
  the load average is recorded beside them, since other work on the machine slows the wall clock.
- ``morphology``: the offline default captioning images directly (measure, then phrase), on
  procedural galaxies rendered like the pipeline does.
- ``blip``: BLIP-base's architecture with random weights (no download is possible here); speed
  does not depend on the weights, but random weights never emit end-of-sequence, so every caption
  runs to ``max_new_tokens`` — a worst case for generation length.
- ``mllm``: a tiny random LLaVA: exercises the image-text-to-text path; its speed says nothing
  about a real multimodal LLM and is labelled as such.

When CUDA is available, BLIP also runs against transformers' plain ``pipeline("image-to-text")``
one image at a time on the same GPU, and the ratio is reported.

    nice -n 10 python bench/captions.py [--quick] [--real 500] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from cosmoalign.balance import balance_train_split
from cosmoalign.captions.blip import BlipCaptioner
from cosmoalign.captions.caption_table import caption_partition
from cosmoalign.captions.measurement_table import measure_partition
from cosmoalign.captions.mllm import MllmCaptioner
from cosmoalign.captions.morphology import MorphologyCaptioner
from cosmoalign.captions.random_models import build_random_blip, build_tiny_llava
from cosmoalign.captions.region_table import regions_partition
from cosmoalign.imaging import to_rgb8
from cosmoalign.ingest import curate_partition, ingest_source
from cosmoalign.lake import Lake
from cosmoalign.schema import CURATED_TABLE, IMAGE_SCHEMA
from cosmoalign.sources.embedded import NANOMAGGIES_PER_SKY_SIGMA
from cosmoalign.sources.local import FolderSource
from cosmoalign.sources.procedural import render_galaxy, sample_params

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "captions.json"
SDSS = ROOT.parent / "shared" / "data" / "sdss-unlabelled"


def galaxies(n: int, size: int = 128) -> list[np.ndarray]:
    """``n`` procedural galaxies across the ten classes, as uint8 RGB."""
    images = []
    for index in range(n):
        rng = np.random.default_rng([0, index % 10, index])
        flux = render_galaxy(sample_params(index % 10, size, rng), size, rng)
        images.append(to_rgb8(flux * NANOMAGGIES_PER_SKY_SIGMA, "grz"))
    return images


def rate(caption: Callable[[list[np.ndarray]], list[str]], images: list[np.ndarray]) -> dict:
    """Captions per second for one call over ``images`` after a one-image warm-up."""
    caption(images[:1])
    start = time.perf_counter()
    texts = caption(images)
    seconds = time.perf_counter() - start
    return {"images": len(images), "seconds": seconds, "captions_per_second": len(texts) / seconds}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)


def real_cutout_lake(root: Path, n: int) -> Lake:
    """A scratch lake holding the first ``n`` SDSS cutouts, ingested and curated like a folder."""
    files = sorted(SDSS.glob("*.jpg"))[:n]
    if len(files) < n:
        raise SystemExit(f"{SDSS} holds {len(files)} JPEGs, fewer than the {n} asked for")
    folder = root / "images"
    folder.mkdir()
    for path in files:
        shutil.copyfile(path, folder / path.name)
    lake = Lake(str(root / "lake"))
    ingest_source(FolderSource(folder), lake, "sdss")
    curate_partition(lake, "sdss")
    balanced, _ = balance_train_split(lake.read(CURATED_TABLE, "sdss").to_pandas())
    table = pa.Table.from_pandas(balanced, IMAGE_SCHEMA, preserve_index=False)
    lake.write_table("balanced_images", "sdss", table)
    return lake


def real_cutout_stages(n: int, workers: int) -> dict:
    """Measurements, captions and regions of ``n`` real cutouts, timed stage by stage."""
    with tempfile.TemporaryDirectory(prefix="cosmoalign-bench-real-") as tmp:
        lake = real_cutout_lake(Path(tmp), n)
        load_before = os.getloadavg()
        stages = {
            "measurements": lambda: measure_partition(lake, "sdss", workers=workers).measured,
            "captions": lambda: caption_partition(lake, "sdss", MorphologyCaptioner()).captioned,
            "regions": lambda: regions_partition(lake, "sdss")[0].rows,
        }
        timings = {}
        for name, run in stages.items():
            wall, cpu = time.perf_counter(), cpu_seconds()
            rows = run()
            timings[name] = {
                "rows": rows,
                "seconds": round(time.perf_counter() - wall, 2),
                "cpu_seconds": round(cpu_seconds() - cpu, 2),
            }
        load_after = os.getloadavg()
    rows = timings["measurements"]["rows"]
    seconds = sum(stage["seconds"] for stage in timings.values())
    cpu = sum(stage["cpu_seconds"] for stage in timings.values())
    return {
        "images": rows,
        "image_size": "423x423 JPEG (SDSS DR7, Galaxy Zoo sample)",
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "stages": timings,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds, 1),
        "cpu_seconds_per_row": round(cpu / rows, 4),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
    }


def plain_pipeline_rate(model_dir: Path, images: list[np.ndarray]) -> dict:
    """transformers' ``pipeline("image-to-text")``, one image at a time, on the GPU."""
    from PIL import Image
    from transformers import pipeline

    captioner = pipeline("image-to-text", model=str(model_dir), device=0)
    pil = [Image.fromarray(image) for image in images]
    return rate(lambda batch: [captioner(image)[0]["generated_text"] for image in batch], pil)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=int, default=500, help="real SDSS cutouts (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="measurement processes")
    parser.add_argument("--quick", action="store_true", help="100 real cutouts")
    parser.add_argument("--morphology-images", type=int, default=200)
    parser.add_argument("--blip-images", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.real = min(args.real, 100)

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    images = galaxies(max(args.morphology_images, args.blip_images))
    results: dict = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu"}
    if args.real:
        results["real_sdss_cutouts"] = real_cutout_stages(args.real, args.workers)
    results["morphology"] = rate(MorphologyCaptioner().caption, images[: args.morphology_images])
    with tempfile.TemporaryDirectory(prefix="cosmoalign-bench-") as tmp:
        blip_dir = build_random_blip(Path(tmp) / "blip-base-random", base=True)
        blip = BlipCaptioner(str(blip_dir), batch_size=args.batch_size, device=device)
        results["blip_base_random_weights"] = rate(blip.caption, images[: args.blip_images])
        if device == "cuda":
            plain = plain_pipeline_rate(blip_dir, images[: args.blip_images])
            results["blip_plain_pipeline"] = plain
            results["blip_speedup_vs_plain_pipeline"] = (
                results["blip_base_random_weights"]["captions_per_second"]
                / plain["captions_per_second"]
            )
        llava_dir = build_tiny_llava(Path(tmp) / "llava-tiny-random")
        mllm = MllmCaptioner(str(llava_dir), batch_size=args.batch_size, device=device)
        results["mllm_tiny_random_code_path_only"] = rate(mllm.caption, images[: args.blip_images])
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
    }
    results["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for name, value in results.items():
        if isinstance(value, dict) and "captions_per_second" in value:
            print(f"{name}: {value['captions_per_second']:.2f} captions/s")
    if args.real:
        real = results["real_sdss_cutouts"]
        print(
            f"real cutouts: {real['rows_per_second']} rows/s through measurements + captions + "
            f"regions on {real['workers']} workers ({real['cpu_seconds_per_row']} CPU-s a row, "
            f"load average {real['load_average_before'][0]})"
        )
    print(f"results in {args.output}")


if __name__ == "__main__":
    main()
