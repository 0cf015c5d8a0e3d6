"""The text shortcuts give ``clip.encode_text``'s embeddings and gradients on padded tokens."""

import pytest
import torch

from cosmoalign.models import ModelSpec, build_model
from cosmoalign.train.data import trim_padding
from cosmoalign.train.text_encoding import can_trim_padding, encode_text

CAPTIONS = [
    "a smooth round galaxy.",
    "a barred spiral with loose arms, seen face-on; its bulge is small and the arms are blue.",
    "an edge-on disk.",
]


@pytest.fixture(scope="module", params=["offline-default", "tiny"])
def bundle(request):
    return build_model(ModelSpec(request.param))


def _padded_and_fast(bundle):
    clip = bundle.model.eval()
    tokens = bundle.tokenizer(CAPTIONS)
    assert can_trim_padding(clip)
    trimmed = trim_padding(tokens)
    assert trimmed.shape[1] < tokens.shape[1]
    clip.zero_grad()
    padded = clip.encode_text(tokens, normalize=True)
    padded.sum().backward()
    padded_grads = {n: p.grad.clone() for n, p in clip.named_parameters() if p.grad is not None}
    clip.zero_grad()
    clip.encode_text = _not_called  # the shortcut must not fall back to the padded tower
    fast = encode_text(clip, trimmed)
    del clip.encode_text
    fast.sum().backward()
    fast_grads = {n: p.grad.clone() for n, p in clip.named_parameters() if p.grad is not None}
    return padded, fast, padded_grads, fast_grads


def _not_called(*args, **kwargs):
    raise AssertionError("fell back to clip.encode_text")


def test_real_token_encoding_matches_the_padded_tower(bundle):
    padded, fast, padded_grads, fast_grads = _padded_and_fast(bundle)
    assert fast.shape == padded.shape
    torch.testing.assert_close(fast, padded, atol=2e-6, rtol=1e-5)
    assert padded_grads.keys() == fast_grads.keys()
    for name, grad in padded_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_packed_bert_keeps_dropout_in_training_mode():
    bundle = build_model(ModelSpec("offline-default"))
    clip, tokens = bundle.model.train(), trim_padding(bundle.tokenizer(CAPTIONS))
    with torch.no_grad():
        first, second = encode_text(clip, tokens), encode_text(clip, tokens)
    assert not torch.allclose(first, second)
