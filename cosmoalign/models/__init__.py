"""CLIP models: the offline default, a tiny test model, open_clip architectures, and export."""

from cosmoalign.models.export import export_open_clip, relocate_export
from cosmoalign.models.factory import build_model
from cosmoalign.models.pretrained_weights import ChecksumMismatchError
from cosmoalign.models.spec import ClipBundle, ModelSpec
from cosmoalign.models.token_grid import (
    has_token_grid,
    image_embedding_and_grid,
    image_token_grid,
)

__all__ = [
    "ChecksumMismatchError",
    "ClipBundle",
    "ModelSpec",
    "build_model",
    "export_open_clip",
    "has_token_grid",
    "image_embedding_and_grid",
    "image_token_grid",
    "relocate_export",
]
