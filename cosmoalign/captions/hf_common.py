"""What the BLIP and MLLM captioners share: lazy loading, device choice, batching, versioning."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cosmoalign.captions.base import CaptionerInfo, prompt_hash


def resolve_device(device: str | None) -> str:
    """``device`` if given, else ``"cuda"`` when available, else ``"cpu"``."""
    if device is not None:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def normalise_whitespace(text: str) -> str:
    """Collapse runs of whitespace to single spaces and trim the ends."""
    return re.sub(r"\s+", " ", text).strip()


def model_version(model: str, config: Any) -> str:
    """``<model id or local path basename>@<revision>``: hub commit if known, else config hash."""
    name = Path(model).name if Path(model).exists() else model
    revision = getattr(config, "_commit_hash", None)
    if not revision:
        fields = {k: v for k, v in config.to_diff_dict().items() if k != "transformers_version"}
        revision = prompt_hash(json.dumps(fields, sort_keys=True, default=str))
    return f"{name}@{revision[:12]}"


class HfCaptioner(ABC):
    """A transformers captioner: loads model and processor on first use, captions in batches.

    On CUDA the weights are loaded in bfloat16; transformers picks SDPA attention where the
    architecture supports it and eager attention otherwise (BLIP has no SDPA path).
    """

    name: str
    model_class: str
    processor_class: str

    def __init__(self, model: str, batch_size: int, max_new_tokens: int, device: str | None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.device = resolve_device(device)

    @abstractmethod
    def prompt_parts(self) -> tuple[str, ...]:
        """Everything besides the weights that changes the output, for the prompt hash."""

    @abstractmethod
    def describe(self, model: Any, processor: Any, images: list[Any]) -> list[str]:
        """Descriptions for one batch of PIL images."""

    @cached_property
    def info(self) -> CaptionerInfo:
        """Name, model version and prompt hash; reads only the model's config."""
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(self.model)
        return CaptionerInfo(
            self.name, model_version(self.model, config), prompt_hash(*self.prompt_parts())
        )

    @cached_property
    def loaded(self) -> tuple[Any, Any]:
        """The model (eval mode, on the device) and its processor, loaded once."""
        import torch
        import transformers

        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        model_cls = getattr(transformers, self.model_class)
        model = model_cls.from_pretrained(self.model, dtype=dtype).to(self.device).eval()
        processor = getattr(transformers, self.processor_class).from_pretrained(self.model)
        return model, processor

    def caption(
        self, images: Sequence[np.ndarray], labels: Sequence[str | None] | None = None
    ) -> list[str]:
        """One description per uint8 RGB image, in order; ``labels`` are not used."""
        import torch
        from PIL import Image

        model, processor = self.loaded
        pil = [
            Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB") for image in images
        ]
        out: list[str] = []
        with torch.inference_mode():
            for start in range(0, len(pil), self.batch_size):
                out += self.describe(model, processor, pil[start : start + self.batch_size])
        return out

    def generate_kwargs(self) -> dict[str, Any]:
        """Greedy decoding, so captions do not depend on batching or seeds."""
        return {"max_new_tokens": self.max_new_tokens, "do_sample": False, "num_beams": 1}
