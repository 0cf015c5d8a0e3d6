"""Build a captioner backend by name, importing heavy libraries only for the one chosen."""

from __future__ import annotations

from cosmoalign.captions.base import Captioner
from cosmoalign.parallel import default_workers

BACKENDS = ("morphology", "blip", "mllm")


def build_captioner(
    backend: str = "morphology",
    model: str = "",
    prompt: str = "",
    batch_size: int = 16,
    seed: int = 0,
) -> Captioner:
    """A captioner: ``morphology`` (offline default), ``blip`` or ``mllm`` (a model id or path).

    ``prompt`` is BLIP's conditional prefix, or the MLLM's prompt version; empty keeps defaults.
    """
    if backend == "morphology":
        from cosmoalign.captions.morphology import MorphologyCaptioner

        return MorphologyCaptioner(seed=seed, workers=default_workers())
    if backend == "blip":
        from cosmoalign.captions.blip import BlipCaptioner

        options = {"prompt": prompt} if prompt else {}
        return BlipCaptioner(
            model or "Salesforce/blip-image-captioning-base", batch_size=batch_size, **options
        )
    if backend == "mllm":
        from cosmoalign.captions.mllm import MllmCaptioner

        if not model:
            raise ValueError("the mllm captioner needs a model id or local path (config 'model')")
        return MllmCaptioner(model, prompt_version=prompt or "v1", batch_size=batch_size)
    raise ValueError(f"unknown captioner {backend!r}; choose one of {', '.join(BACKENDS)}")
