"""WiSE-FT (Wortsman et al., 2022): interpolate fine-tuned weights with the base model's.

Fine-tuning on a small domain set erodes general zero-shot skill; mixing weights back towards
the base keeps much of it at little cost in domain accuracy.
"""

from __future__ import annotations

import torch
from torch import nn


def interpolate(model: nn.Module, base_state: dict[str, torch.Tensor], alpha: float) -> None:
    """Set every floating-point weight to ``(1 - alpha) * base + alpha * fine_tuned`` in place."""
    if alpha == 1.0:
        return
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                value.copy_(torch.lerp(base_state[name].to(value), value, alpha))
