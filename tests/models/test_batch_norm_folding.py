"""Batch norms folded into convolutions for inference: the same features, the original tower
untouched, and no folding where it would change the output."""

import torch
from torch import nn

from cosmoalign.models import ModelSpec, build_model, image_embedding_and_grid
from cosmoalign.models.batch_norm_folding import fold_batch_norms, folded_image_tower


def _batch_norms(module: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def test_the_offline_default_tower_gives_the_same_embeddings_without_batch_norms():
    clip = build_model(ModelSpec("offline-default"), seed=0).model.eval()
    images = torch.rand(4, 3, 128, 128).contiguous(memory_format=torch.channels_last)
    before = {name: value.clone() for name, value in clip.visual.state_dict().items()}
    with torch.inference_mode():
        expected = image_embedding_and_grid(clip, images)
        original = clip.visual
        with folded_image_tower(clip, images[:1]) as folded:
            assert _batch_norms(folded.visual) == 0 < _batch_norms(original)
            got = image_embedding_and_grid(folded, images)
    assert clip.visual is original
    for value, reference in zip(got, expected, strict=True):
        torch.testing.assert_close(value, reference, rtol=1e-4, atol=1e-4)
    after = clip.visual.state_dict()
    assert all(torch.equal(after[name], value) for name, value in before.items())


class _Residual(nn.Module):
    """A convolution whose output feeds its batch norm and a skip connection."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.norm = nn.BatchNorm2d(3)
        with torch.no_grad():
            self.norm.running_mean.uniform_(-1, 1)
            self.norm.running_var.uniform_(0.5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.norm(y) + y


def test_a_tower_the_folding_would_change_is_used_as_it_is():
    tower, example = _Residual().eval(), torch.rand(1, 3, 8, 8)
    assert fold_batch_norms(tower, example) is tower
    assert fold_batch_norms(tower.train(), example) is tower  # training: statistics move
