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


@pytest.fixture(params=["offline-default", "tiny"])
def locked(request):
    """A fresh model's objective with both trunks locked the way the loop locks them (LiT)."""
    from cosmoalign.train.config import TrainConfig
    from cosmoalign.train.loop import _lock_towers
    from cosmoalign.train.recipes import CosmoClipObjective

    bundle = build_model(ModelSpec(request.param))
    config = TrainConfig("cosmoclip", "lake", "p", "run", lock_text=True, lock_image=True)
    _lock_towers(bundle.model, config)
    return bundle, CosmoClipObjective(bundle.model).train()


def test_locked_text_features_equal_the_tower_and_train_the_projection(locked):
    bundle, objective = locked
    assert objective.text_features is not None
    tokens = trim_padding(bundle.tokenizer(CAPTIONS))
    cached = objective.encode_text(tokens)
    assert len(objective.text_features.features) == len(CAPTIONS)
    torch.testing.assert_close(cached, encode_text(bundle.model, tokens), atol=2e-6, rtol=1e-5)
    cached.sum().backward()
    trained = {n for n, p in bundle.model.named_parameters() if p.grad is not None}
    assert trained and all("proj" in name for name in trained), trained


def test_locked_text_features_are_reused_whatever_the_padding(locked, monkeypatch):
    from cosmoalign.train import text_encoding

    bundle, objective = locked
    short = trim_padding(bundle.tokenizer(CAPTIONS[:1]))
    first = objective.encode_text(short)
    monkeypatch.setattr(text_encoding, "text_trunk_features", _not_called)  # no second pass
    again = objective.encode_text(bundle.tokenizer(CAPTIONS[:1]))  # padded to the full context
    torch.testing.assert_close(first, again)


def test_the_caption_cache_keeps_the_most_recently_used(locked):
    bundle, objective = locked
    cache = objective.text_features
    cache.max_captions = 2
    tokens = trim_padding(bundle.tokenizer(CAPTIONS))
    objective.encode_text(tokens[:1])
    objective.encode_text(tokens[1:])  # three captions seen: the first leaves
    assert list(cache.features) == [cache._key(row) for row in tokens[1:]]
    expected = encode_text(bundle.model, tokens)
    torch.testing.assert_close(objective.encode_text(tokens), expected, atol=2e-6, rtol=1e-5)


def test_a_training_text_trunk_gets_no_cache():
    from cosmoalign.train.recipes import CosmoClipObjective

    assert CosmoClipObjective(build_model(ModelSpec("tiny")).model).train().text_features is None
