"""Fine-tuning on Hugging Face Accelerate: ``accelerate launch -m cosmoalign.train --config``."""

from cosmoalign.train.config import RECIPES, TrainConfig

__all__ = ["RECIPES", "TrainConfig"]
