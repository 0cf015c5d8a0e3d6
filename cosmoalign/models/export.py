"""Write a CLIP model as a folder that plain open_clip loads, by either of its two routes."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from copy import deepcopy
from pathlib import Path
from typing import Any

import torch
from open_clip.model import get_model_preprocess_cfg
from open_clip.transform import PreprocessCfg, merge_preprocess_dict
from safetensors.torch import save_file
from torch import nn
from transformers import AutoTokenizer

from cosmoalign.models.spec import ClipBundle

CONFIG_FILE = "open_clip_config.json"
CHECKPOINT_FILE = "open_clip_model.safetensors"
TEXT_TOWER_DIR = "text_tower"


def export_open_clip(
    source: ClipBundle | nn.Module,
    out_dir: Path,
    model_cfg: dict[str, Any] | None = None,
    model_name: str | None = None,
) -> Path:
    """Export a bundle (or a model and its ``model_cfg``) to ``out_dir``, replacing it atomically.

    Writes ``open_clip_config.json`` and ``open_clip_model.safetensors``, so
    ``open_clip.create_model_and_transforms("local-dir:" + out_dir)`` works, and
    ``<model_name>.json`` (default: the folder's name), so ``open_clip.add_model_config(json)``
    then ``create_model_and_transforms(model_name, pretrained=<safetensors>)`` works too (pass
    ``image_mean``/``image_std`` there: that route does not read ``preprocess_cfg``). An HF text
    tower's config and tokenizer are copied into ``text_tower/`` (and the tokenizer next to the
    config, where the local-dir route looks), and the exported config names it by its absolute
    path inside ``out_dir``: plain open_clip hands that name to transformers, which would read a
    relative one against the working directory. The folder so depends on nothing outside it;
    after moving or downloading it, :func:`relocate_export` points the name at its new place
    (cosmoalign's own loader always uses the folder's ``text_tower/``).
    """
    if isinstance(source, ClipBundle):
        model, model_cfg = source.model, source.model_cfg
    elif model_cfg is None:
        raise ValueError("exporting a bare model needs its open_clip model_cfg")
    else:
        model = source
    out_dir = Path(out_dir).resolve()
    model_name = model_name or out_dir.name
    if model_name in {Path(CONFIG_FILE).stem, Path(CHECKPOINT_FILE).stem} or "/" in model_name:
        raise ValueError(f"model_name {model_name!r} would clash with the export's own files")
    exported_cfg = deepcopy(model_cfg)
    if "timm_model_name" in exported_cfg["vision_cfg"]:
        exported_cfg["vision_cfg"]["timm_model_pretrained"] = False
    preprocess_cfg = merge_preprocess_dict(PreprocessCfg(), get_model_preprocess_cfg(model))

    staging = out_dir.with_name(f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        text_cfg = exported_cfg["text_cfg"]
        if "hf_model_name" in text_cfg:
            _write_text_tower(model.text, text_cfg["hf_tokenizer_name"], staging)
            tower = str(out_dir / TEXT_TOWER_DIR)
            text_cfg.update(hf_model_name=tower, hf_tokenizer_name=tower, hf_model_pretrained=False)
        save_file(shareable_state_dict(model), staging / CHECKPOINT_FILE)
        config = {"model_cfg": exported_cfg, "preprocess_cfg": preprocess_cfg}
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        (staging / f"{model_name}.json").write_text(json.dumps(exported_cfg, indent=2))
        _move_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def relocate_export(folder: str | os.PathLike) -> Path:
    """Point a moved or downloaded export's configs at its own ``text_tower/``, so plain
    ``open_clip.create_model_and_transforms("local-dir:" + folder)`` loads it from anywhere; a
    folder without an HF text tower is left as it is."""
    folder = Path(folder).resolve()
    tower = folder / TEXT_TOWER_DIR
    if not tower.is_dir():
        return folder
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text())
        text_cfg = (data.get("model_cfg", data) if isinstance(data, dict) else {}).get("text_cfg")
        if not isinstance(text_cfg, dict) or "hf_model_name" not in text_cfg:
            continue
        text_cfg.update(hf_model_name=str(tower), hf_tokenizer_name=str(tower))
        staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        staging.write_text(json.dumps(data, indent=2))
        staging.replace(path)
    return folder


def shareable_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict on CPU, contiguous, with tied tensors copied: safetensors refuses aliases."""
    seen: set[int] = set()
    state = {}
    for key, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if storage in seen:
            tensor = tensor.clone()
        seen.add(storage)
        state[key] = tensor
    return state


def _write_text_tower(text: nn.Module, tokenizer_name: str, staging: Path) -> None:
    """The HF text tower's config and tokenizer under ``text_tower/``; the tokenizer also at the
    top, where ``open_clip.get_tokenizer("local-dir:...")`` reads it."""
    text.config.save_pretrained(staging / TEXT_TOWER_DIR)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_name)
    tokenizer.save_pretrained(staging / TEXT_TOWER_DIR)
    tokenizer.save_pretrained(staging)


def _move_into_place(staging: Path, out_dir: Path) -> None:
    """Rename ``staging`` to ``out_dir``, first moving any previous export aside."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    previous = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
    out_dir.rename(previous)
    staging.rename(out_dir)
    shutil.rmtree(previous)
