"""Captioning throughput of each backend on this machine.

- ``morphology``: the offline default, on procedural galaxies rendered like the pipeline does.
- ``blip``: BLIP-base's architecture with random weights (no download is possible here); speed
  does not depend on the weights, but random weights never emit end-of-sequence, so every caption
  runs to ``max_new_tokens`` — a worst case for generation length.
- ``mllm``: a tiny random LLaVA: exercises the image-text-to-text path; its speed says nothing
  about a real multimodal LLM and is labelled as such.

When CUDA is available, BLIP also runs against transformers' plain ``pipeline("image-to-text")``
one image at a time on the same GPU, and the ratio is reported.

    python bench/captions.py
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cosmoalign.captions.blip import BlipCaptioner
from cosmoalign.captions.mllm import MllmCaptioner
from cosmoalign.captions.morphology import MorphologyCaptioner
from cosmoalign.captions.random_models import build_random_blip, build_tiny_llava
from cosmoalign.imaging import to_rgb8
from cosmoalign.sources.embedded import NANOMAGGIES_PER_SKY_SIGMA
from cosmoalign.sources.procedural import render_galaxy, sample_params

RESULTS = Path(__file__).resolve().parent / "results" / "captions.json"


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


def plain_pipeline_rate(model_dir: Path, images: list[np.ndarray]) -> dict:
    """transformers' ``pipeline("image-to-text")``, one image at a time, on the GPU."""
    from PIL import Image
    from transformers import pipeline

    captioner = pipeline("image-to-text", model=str(model_dir), device=0)
    pil = [Image.fromarray(image) for image in images]
    return rate(lambda batch: [captioner(image)[0]["generated_text"] for image in batch], pil)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--morphology-images", type=int, default=200)
    parser.add_argument("--blip-images", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    images = galaxies(max(args.morphology_images, args.blip_images))
    results: dict = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu"}
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
    print(f"results in {args.output}")


if __name__ == "__main__":
    main()
