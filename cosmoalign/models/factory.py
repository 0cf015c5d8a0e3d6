"""``build_model``: one entry point for the offline default, the tiny test model, open_clip
architectures and exported folders."""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.model import CLIP, CustomTextCLIP, set_model_preprocess_cfg
from open_clip.tokenizer import HFTokenizer, SimpleTokenizer
from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict
from torch import nn

from cosmoalign.models.configs import (
    OFFLINE_IMAGE_SIZE,
    TINY_IMAGE_SIZE,
    offline_default_model_cfg,
    offline_default_preprocess_cfg,
    tiny_model_cfg,
    tiny_preprocess_cfg,
)
from cosmoalign.models.export import CHECKPOINT_FILE, CONFIG_FILE, TEXT_TOWER_DIR
from cosmoalign.models.pretrained_weights import load_efficientnet_lite0, load_minilm, minilm_dir
from cosmoalign.models.spec import LOCAL_DIR_PREFIX, OFFLINE_DEFAULT, TINY, ClipBundle, ModelSpec

OFFLINE_DEFAULT_NAME = "efficientnet_lite0+all-MiniLM-L6-v2"
TINY_NAME = "tiny-vit"


def build_model(spec: ModelSpec | None = None, seed: int | None = 0) -> ClipBundle:
    """The CLIP model ``spec`` names (default: the offline default), in eval mode, with its
    tokenizer and transforms.

    Randomly initialised parameters (the offline default's projections, all of ``tiny``) are
    drawn under ``torch.manual_seed(seed)`` without touching the global RNG; ``seed=None``
    draws from the global RNG instead.
    """
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        bundle = _build(spec or ModelSpec())
    bundle.model.eval()
    return bundle


def _build(spec: ModelSpec) -> ClipBundle:
    if spec.arch == OFFLINE_DEFAULT:
        return _offline_default(spec.image_size or OFFLINE_IMAGE_SIZE)
    if spec.arch == TINY:
        size = spec.image_size or TINY_IMAGE_SIZE
        return bundle_from_config(tiny_model_cfg(size), tiny_preprocess_cfg(size), TINY_NAME)
    if spec.arch.startswith(LOCAL_DIR_PREFIX):
        return _local_dir(Path(spec.arch.removeprefix(LOCAL_DIR_PREFIX)), spec.image_size)
    if spec.arch in open_clip.list_models():
        return _open_clip_arch(spec)
    raise ValueError(
        f"unknown model arch {spec.arch!r}: use {OFFLINE_DEFAULT!r}, {TINY!r}, "
        f"'{LOCAL_DIR_PREFIX}/path' or one of open_clip.list_models()"
    )


def instantiate(model_cfg: dict[str, Any]) -> nn.Module:
    """An open_clip ``CLIP`` (or ``CustomTextCLIP`` for HF text towers) from a model config."""
    cfg = deepcopy(model_cfg)
    if "multimodal_cfg" in cfg:
        raise ValueError("CoCa configs (multimodal_cfg) are not supported")
    custom_text = cfg.pop("custom_text", False) or "hf_model_name" in cfg["text_cfg"]
    return (CustomTextCLIP if custom_text else CLIP)(**cfg)


def tokenizer_for(model_cfg: dict[str, Any]) -> HFTokenizer | SimpleTokenizer:
    """The HF tokenizer named in ``text_cfg``, else open_clip's BPE tokenizer."""
    text_cfg = model_cfg["text_cfg"]
    context_length = text_cfg.get("context_length", open_clip.tokenizer.DEFAULT_CONTEXT_LENGTH)
    if text_cfg.get("hf_tokenizer_name"):
        return HFTokenizer(text_cfg["hf_tokenizer_name"], context_length=context_length)
    return SimpleTokenizer(context_length=context_length)


def bundle_from_config(
    model_cfg: dict[str, Any],
    preprocess_cfg: dict[str, Any],
    name: str,
    checkpoint: Path | None = None,
) -> ClipBundle:
    """Instantiate ``model_cfg``, load a full open_clip ``checkpoint`` if given, and bundle it."""
    model = instantiate(model_cfg)
    if checkpoint is not None:
        open_clip.load_checkpoint(model, str(checkpoint), strict=True)
    set_model_preprocess_cfg(model, preprocess_cfg)
    return _bundle(model, model_cfg, tokenizer_for(model_cfg), name)


def _bundle(model: nn.Module, model_cfg: dict[str, Any], tokenizer: Any, name: str) -> ClipBundle:
    pp_cfg = PreprocessCfg(**model.visual.preprocess_cfg)
    size = pp_cfg.size if isinstance(pp_cfg.size, int) else pp_cfg.size[0]
    return ClipBundle(
        model=model,
        model_cfg=model_cfg,
        tokenizer=tokenizer,
        preprocess_train=image_transform_v2(pp_cfg, is_train=True),
        preprocess_val=image_transform_v2(pp_cfg, is_train=False),
        image_mean=tuple(pp_cfg.mean),
        image_std=tuple(pp_cfg.std),
        image_size=size,
        name=name,
    )


def _offline_default(image_size: int) -> ClipBundle:
    bundle = bundle_from_config(
        offline_default_model_cfg(minilm_dir(), image_size),
        offline_default_preprocess_cfg(image_size),
        OFFLINE_DEFAULT_NAME,
    )
    load_efficientnet_lite0(bundle.model.visual.trunk)
    load_minilm(bundle.model.text.transformer)
    return bundle


def _local_dir(path: Path, image_size: int | None) -> ClipBundle:
    """A folder from ``export_open_clip``; its own ``text_tower/`` wins, so it can be moved."""
    path = path.resolve()
    saved = json.loads((path / CONFIG_FILE).read_text())
    model_cfg = saved["model_cfg"]
    text_cfg = model_cfg["text_cfg"]
    if "hf_model_name" in text_cfg:
        text_cfg["hf_model_pretrained"] = False
        if (path / TEXT_TOWER_DIR).is_dir():
            text_cfg["hf_model_name"] = text_cfg["hf_tokenizer_name"] = str(path / TEXT_TOWER_DIR)
    overrides = {}
    if image_size is not None:
        model_cfg["vision_cfg"]["image_size"] = overrides["size"] = image_size
    preprocess_cfg = merge_preprocess_dict(
        merge_preprocess_dict(PreprocessCfg(), saved.get("preprocess_cfg", {})), overrides
    )
    return bundle_from_config(
        model_cfg, preprocess_cfg, f"{LOCAL_DIR_PREFIX}{path}", path / CHECKPOINT_FILE
    )


def _open_clip_arch(spec: ModelSpec) -> ClipBundle:
    """An open_clip architecture; ``pretrained`` (tag or file) may download on first use."""
    model = open_clip.create_model(
        spec.arch, pretrained=spec.pretrained, force_image_size=spec.image_size
    )
    model_cfg = open_clip.get_model_config(spec.arch)
    if spec.image_size is not None:
        model_cfg["vision_cfg"]["image_size"] = spec.image_size
    name = f"{spec.arch}:{spec.pretrained}" if spec.pretrained else spec.arch
    return _bundle(model, model_cfg, open_clip.get_tokenizer(spec.arch), name)
