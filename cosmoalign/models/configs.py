"""open_clip model and preprocessing configs for the two built-in architectures."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from open_clip.transform import PreprocessCfg
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

OFFLINE_IMAGE_SIZE = 128
OFFLINE_EMBED_DIM = 256
OFFLINE_CONTEXT_LENGTH = 64
TINY_IMAGE_SIZE = 64
TINY_CONTEXT_LENGTH = 32


def offline_default_model_cfg(text_model_dir: Path, image_size: int) -> dict[str, Any]:
    """timm ``efficientnet_lite0`` image tower + the MiniLM folder as HF text tower.

    Both towers are built without weights: ``pretrained_weights`` loads them afterwards.
    """
    return {
        "embed_dim": OFFLINE_EMBED_DIM,
        "vision_cfg": {
            "timm_model_name": "efficientnet_lite0",
            "timm_model_pretrained": False,
            "timm_pool": "avg",
            "timm_proj": "linear",
            "image_size": image_size,
        },
        "text_cfg": {
            "hf_model_name": str(text_model_dir),
            "hf_tokenizer_name": str(text_model_dir),
            "hf_model_pretrained": False,
            "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "linear",
            "context_length": OFFLINE_CONTEXT_LENGTH,
        },
    }


def offline_default_preprocess_cfg(image_size: int) -> dict[str, Any]:
    """ImageNet normalisation, as timm's ``efficientnet_lite0`` expects."""
    return asdict(
        PreprocessCfg(size=image_size, mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
    )


def tiny_model_cfg(image_size: int) -> dict[str, Any]:
    """A two-layer ViT and a two-layer text transformer, 32 wide: builds in milliseconds."""
    return {
        "embed_dim": 32,
        "vision_cfg": {
            "image_size": image_size,
            "patch_size": 16,
            "width": 32,
            "head_width": 16,
            "layers": 2,
        },
        "text_cfg": {
            "context_length": TINY_CONTEXT_LENGTH,
            "width": 32,
            "heads": 2,
            "layers": 2,
        },
    }


def tiny_preprocess_cfg(image_size: int) -> dict[str, Any]:
    """open_clip's defaults (OpenAI normalisation) at ``image_size``."""
    return asdict(PreprocessCfg(size=image_size))
