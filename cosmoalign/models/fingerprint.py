"""Fingerprints of a CLIP model and of each of its towers: what cached embeddings and features
are keyed by, so a base and an export that share a tower share what it computed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from cosmoalign.files import file_sha256
from cosmoalign.models.export import CHECKPOINT_FILE
from cosmoalign.models.spec import LOCAL_DIR_PREFIX, ClipBundle


def tower_fingerprint(bundle: ClipBundle, image: bool) -> str:
    """sha256 of the image tower's (``visual.*``) weights and structure, or of the rest of the
    model's and its tokenizer: not of the model's name, so a base and an export of it share
    the side they have in common."""
    model = bundle.model
    modules = [
        repr(module) for name, module in model.named_children() if (name == "visual") == image
    ]
    if not image:
        tokenizer = bundle.tokenizer
        modules += [type(tokenizer).__qualname__, str(getattr(tokenizer, "context_length", ""))]
    digest = hashlib.sha256(json.dumps(modules).encode())
    for key, tensor in model.state_dict().items():
        if key.startswith("visual.") == image:
            _update_with_tensor(digest, key, tensor)
    return digest.hexdigest()


def model_identity(bundle: ClipBundle) -> str:
    """sha256 of the model's weights (:func:`model_fingerprint`) and its image preprocessing:
    what an image embedding depends on besides the image."""
    blob = json.dumps([model_fingerprint(bundle), preprocessing(bundle)])
    return hashlib.sha256(blob.encode()).hexdigest()


def preprocessing(bundle: ClipBundle) -> list:
    """The image side's input settings: size, mean and std."""
    return [bundle.image_size, list(bundle.image_mean), list(bundle.image_std)]


def model_fingerprint(bundle: ClipBundle) -> str:
    """The sha256 of an exported model's safetensors file, else of the weights in memory (which
    pins the architecture, the pretrained tag and the seed of random initialisation)."""
    if bundle.name.startswith(LOCAL_DIR_PREFIX):
        return file_sha256(Path(bundle.name.removeprefix(LOCAL_DIR_PREFIX)) / CHECKPOINT_FILE)
    digest = hashlib.sha256(bundle.name.encode())
    for key, tensor in bundle.model.state_dict().items():
        _update_with_tensor(digest, key, tensor)
    return digest.hexdigest()


def _update_with_tensor(digest, key: str, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().cpu().contiguous()
    digest.update(f"{key}{tensor.dtype}{tuple(tensor.shape)}".encode())
    digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
