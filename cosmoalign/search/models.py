"""Which model a search or a labelling uses: an export folder, a model asset of the lake, or
any spec ``python -m cosmoalign.evaluate`` accepts."""

from __future__ import annotations

from pathlib import Path

from cosmoalign.evaluate.__main__ import parse_model
from cosmoalign.models.export import CONFIG_FILE
from cosmoalign.models.spec import LOCAL_DIR_PREFIX, ModelSpec
from cosmoalign.train.config import RECIPES

DEFAULT_MODEL = "cosmoclip"
DEFAULT_PARTITION = "embedded"


def model_asset_dir(lake_root: str, recipe: str, partition: str) -> Path:
    """The export folder a recipe's model asset wrote for one partition."""
    return Path(lake_root) / f"{recipe}_model" / partition


def resolve_model(text: str, lake_root: str, partition: str) -> ModelSpec:
    """``cosmoclip`` / ``cosmoclip_model`` (a model asset of the lake's ``partition``), an export
    folder, or a spec of :func:`~cosmoalign.evaluate.__main__.parse_model`."""
    recipe = text.removesuffix("_model")
    if recipe in RECIPES and not Path(text).exists():
        folder = model_asset_dir(lake_root, recipe, partition)
        if not (folder / CONFIG_FILE).is_file():
            raise ValueError(
                f"model {text!r}: the {recipe}_model asset has no export for partition "
                f"{partition!r} under {lake_root} (materialize it, or pass --model with an "
                "export folder or offline-default)"
            )
        return ModelSpec(LOCAL_DIR_PREFIX + str(folder.resolve()))
    return parse_model(text)
