"""GalaxAlign: images, captions and schematic class symbols aligned pairwise, in two stages.
It trains on the rows whose class has a symbol, needs the symbols, and exports its symbol
encoder beside the CLIP model."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from cosmoalign.losses import LossParts, TriModalLoss
from cosmoalign.train.recipes.base import ClipObjective, detach_parts

SYMBOL_ENCODER_FILE = "symbol_encoder.safetensors"


class GalaxAlignObjective(ClipObjective):
    """Image-text, symbol-text and image-symbol alignment.

    Stage 1 encodes symbols with the shared image encoder; stage 2 starts by copying it into a
    separate symbol encoder that trains from there. The stage lives in a buffer, so a resumed
    run continues in the right one.
    """

    needs_symbols = True

    def __init__(
        self,
        clip: nn.Module,
        symbols: torch.Tensor,
        symbol_labels: torch.Tensor,
        stage_two_fraction: float = 0.5,
    ):
        super().__init__(clip)
        self.stage_two_fraction = stage_two_fraction
        self.loss = TriModalLoss()
        self.symbol_encoder = copy.deepcopy(clip.visual)
        self.register_buffer("symbols", symbols, persistent=False)
        self.register_buffer("symbol_labels", symbol_labels, persistent=False)
        self.register_buffer("stage", torch.tensor(1))

    def before_step(self, step: int, total_steps: int) -> None:
        """Enter stage two for the last ``stage_two_fraction`` of the steps."""
        if step >= math.floor(total_steps * (1 - self.stage_two_fraction)):
            self.enter_stage_two()

    def export_extras(self, folder: Path) -> None:
        """The symbol encoder as :data:`SYMBOL_ENCODER_FILE`."""
        state = {k: v.contiguous() for k, v in self.symbol_encoder.state_dict().items()}
        save_file(state, str(folder / SYMBOL_ENCODER_FILE))

    def enter_stage_two(self) -> None:
        """Give symbols their own encoder, initialised from the image encoder (once)."""
        if int(self.stage) == 2:
            return
        with torch.no_grad():
            self.symbol_encoder.load_state_dict(self.clip.visual.state_dict())
        self.stage.fill_(2)

    def forward(self, batch: dict[str, torch.Tensor]) -> LossParts:
        image = self.image_embeddings(batch)
        text = self.encode_text(batch["texts"])
        encoder = self.symbol_encoder if int(self.stage) == 2 else self.clip.visual
        per_class = F.normalize(encoder(self.symbols), dim=-1)
        index = _positions(self.symbol_labels, batch["labels"])
        parts = self.loss(image, text, per_class[index], self.logit_scale(), batch["labels"])
        return detach_parts(parts)


def _positions(keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Index of each query value in ``keys`` (every label must have a symbol)."""
    match = queries[:, None] == keys[None, :]
    if not bool(match.any(dim=1).all()):
        missing = sorted(set(queries.tolist()) - set(keys.tolist()))
        raise ValueError(f"labels {missing} have no symbol in the symbols table")
    return match.float().argmax(dim=1)
