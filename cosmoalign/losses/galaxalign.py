"""GalaxAlign's tri-modal loss: images, captions and class symbols aligned three ways."""

from __future__ import annotations

from torch import Tensor, nn

from cosmoalign.losses.gather import gather_features
from cosmoalign.losses.infonce import LossParts, info_nce


class TriModalLoss(nn.Module):
    """Weighted sum of image-text, symbol-text and image-symbol InfoNCE over the global batch.

    GalaxAlign trains in two stages. Stage 1 encodes the symbols with the shared image encoder;
    stage 2 gives symbols a separate encoder copied from it. The trainer picks the encoder; the
    loss is the same in both. Captions are unique, so image-text matches the diagonal; there is
    one symbol per class, so symbol-text and image-symbol count every same-label pair as positive.
    """

    def __init__(
        self, image_text: float = 1.0, symbol_text: float = 1.0, image_symbol: float = 1.0
    ) -> None:
        super().__init__()
        self.weights = {
            "image_text": image_text,
            "symbol_text": symbol_text,
            "image_symbol": image_symbol,
        }

    def forward(
        self, image: Tensor, text: Tensor, symbol: Tensor, logit_scale: Tensor, labels: Tensor
    ) -> LossParts:
        """``total`` and the unweighted parts, each the same on every rank."""
        image, text, symbol, labels = gather_features(image, text, symbol, labels)
        parts = {
            "image_text": info_nce(image, text, logit_scale),
            "symbol_text": info_nce(symbol, text, logit_scale, labels),
            "image_symbol": info_nce(image, symbol, logit_scale, labels),
        }
        total = sum(self.weights[name] * value for name, value in parts.items())
        return {"total": total, **parts}
