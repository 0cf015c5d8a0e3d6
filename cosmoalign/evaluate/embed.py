"""Embed an evaluation set with a CLIP model, once: results are cached on disk as ``.npz``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from cosmoalign.evaluate.data import EvalSet
from cosmoalign.models.export import CHECKPOINT_FILE
from cosmoalign.models.pretrained_weights import sha256_of
from cosmoalign.models.spec import LOCAL_DIR_PREFIX, ClipBundle


@dataclass(frozen=True)
class Embeddings:
    """L2-normalised float32 embeddings: ``image`` (N, E), ``text`` (N, E) of the captions or
    None without captions, ``class_text`` (C, T, E) of the class prompts."""

    image: np.ndarray
    text: np.ndarray | None
    class_text: np.ndarray


def embed(
    bundle: ClipBundle,
    evalset: EvalSet,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Embeddings:
    """Embed the images, captions and class prompts of ``evalset`` (default device: CUDA if
    available). With ``cache_dir`` the result is read from, or else written to,
    ``<cache_dir>/<key>.npz``, ``key`` hashing the model's weights and preprocessing with the
    set's ids, images, captions and prompts.
    """
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{cache_key(bundle, evalset)}.npz"
        if path.is_file():
            with np.load(path) as cached:
                return Embeddings(cached["image"], cached.get("text"), cached["class_text"])
    embeddings = _compute(bundle, evalset, batch_size, device)
    if path is not None:
        _save_atomically(path, embeddings)
    return embeddings


def cache_key(bundle: ClipBundle, evalset: EvalSet) -> str:
    """sha256 of the model's identity and the evaluation set's content."""
    digest = hashlib.sha256(model_identity(bundle).encode())
    digest.update(json.dumps([evalset.object_ids, evalset.captions, evalset.prompts]).encode())
    for image in evalset.images:
        digest.update(hashlib.sha256(image).digest())
    return digest.hexdigest()


def model_identity(bundle: ClipBundle) -> str:
    """sha256 of the model's weights (:func:`model_fingerprint`) and its image preprocessing:
    what an image embedding depends on besides the image."""
    preprocessing = [bundle.image_size, list(bundle.image_mean), list(bundle.image_std)]
    blob = json.dumps([model_fingerprint(bundle), preprocessing])
    return hashlib.sha256(blob.encode()).hexdigest()


def embed_images(
    bundle: ClipBundle,
    images: Sequence[bytes],
    batch_size: int = 64,
    device: str | torch.device | None = None,
    bar: tqdm | None = None,
) -> np.ndarray:
    """L2-normalised float32 embeddings (N, E) of encoded images (PNG/JPEG bytes)."""
    device = _prepare(bundle, device)
    with torch.inference_mode():
        return _batched(partial(_encode_images, bundle, device), images, batch_size, bar)


def embed_texts(
    bundle: ClipBundle,
    texts: Sequence[str],
    batch_size: int = 64,
    device: str | torch.device | None = None,
    bar: tqdm | None = None,
) -> np.ndarray:
    """L2-normalised float32 embeddings (N, E) of texts."""
    device = _prepare(bundle, device)
    with torch.inference_mode():
        return _batched(partial(_encode_texts, bundle, device), texts, batch_size, bar)


def model_fingerprint(bundle: ClipBundle) -> str:
    """The sha256 of an exported model's safetensors file, else of the weights in memory (which
    pins the architecture, the pretrained tag and the seed of random initialisation)."""
    if bundle.name.startswith(LOCAL_DIR_PREFIX):
        return sha256_of(Path(bundle.name.removeprefix(LOCAL_DIR_PREFIX)) / CHECKPOINT_FILE)
    digest = hashlib.sha256(bundle.name.encode())
    for key, tensor in bundle.model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{key}{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _compute(
    bundle: ClipBundle, evalset: EvalSet, batch_size: int, device: str | torch.device | None
) -> Embeddings:
    device = _prepare(bundle, device)
    images = partial(_encode_images, bundle, device)
    texts = partial(_encode_texts, bundle, device)
    prompts = [prompt for class_prompts in evalset.prompts for prompt in class_prompts]
    captions = evalset.captions or []
    total = len(evalset.images) + len(captions) + len(prompts)
    desc = f"embed {evalset.name} with {bundle.name}"
    with torch.inference_mode(), tqdm(total=total, desc=desc, unit="item") as bar:
        image = _batched(images, evalset.images, batch_size, bar)
        text = _batched(texts, captions, batch_size, bar) if captions else None
        class_text = _batched(texts, prompts, batch_size, bar)
    n_classes = len(evalset.prompts)
    return Embeddings(image, text, class_text.reshape(n_classes, -1, class_text.shape[-1]))


def _prepare(bundle: ClipBundle, device: str | torch.device | None) -> torch.device:
    """Move the model to ``device`` (default: CUDA if available) in eval mode."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    bundle.model.to(device).eval()
    return device


def _encode_images(bundle: ClipBundle, device: torch.device, batch: list[bytes]) -> torch.Tensor:
    pixels = torch.stack([bundle.preprocess_val(_open_rgb(data)) for data in batch])
    return bundle.model.encode_image(pixels.to(device))


def _encode_texts(bundle: ClipBundle, device: torch.device, batch: list[str]) -> torch.Tensor:
    return bundle.model.encode_text(bundle.tokenizer(batch).to(device))


def _batched(
    encode: Callable[[list], torch.Tensor], items: Sequence, batch_size: int, bar: tqdm | None
) -> np.ndarray:
    """``encode`` applied batch by batch, L2-normalised, as one float32 array."""
    chunks = []
    for start in range(0, len(items), batch_size):
        batch = [items[i] for i in range(start, min(start + batch_size, len(items)))]
        features = encode(batch).float()
        chunks.append(torch.nn.functional.normalize(features, dim=-1).cpu().numpy())
        if bar is not None:
            bar.update(len(batch))
    return np.concatenate(chunks).astype(np.float32)


def _open_rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _save_atomically(path: Path, embeddings: Embeddings) -> None:
    """Write the ``.npz`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"image": embeddings.image, "class_text": embeddings.class_text}
    if embeddings.text is not None:
        arrays["text"] = embeddings.text
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
