"""Batch norms folded into convolutions for inference: the same features, the original tower
untouched, and no folding where it would change the output."""

import numpy as np
import torch
from torch import nn

from cosmoalign.evaluate.embed import ImageEmbedder, embed_images
from cosmoalign.imaging import encode_png
from cosmoalign.models import ModelSpec, batch_norm_folding, build_model, image_embedding_and_grid
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


def test_an_image_embedder_folds_once_for_all_its_calls(monkeypatch):
    bundle = build_model(ModelSpec("offline-default"), seed=0)
    generator = torch.Generator().manual_seed(0)
    images = [
        encode_png((torch.rand(96, 96, 3, generator=generator) * 255).to(torch.uint8).numpy())
        for _ in range(12)
    ]
    expected = embed_images(bundle, images, batch_size=4)  # one call: folded for it alone
    folds = []
    monkeypatch.setattr(
        batch_norm_folding, "fold_batch_norms", lambda *a: folds.append(a) or fold_batch_norms(*a)
    )
    original = bundle.model.visual
    with ImageEmbedder(bundle, batch_size=4) as embedder:
        got = [embedder(images[start : start + 4]) for start in range(0, len(images), 4)]
        assert bundle.model.visual is not original
    assert len(folds) == 1 and bundle.model.visual is original
    np.testing.assert_allclose(np.concatenate(got), expected, rtol=1e-5, atol=1e-6)
