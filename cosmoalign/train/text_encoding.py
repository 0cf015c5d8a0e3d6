"""Text towers run on the real tokens only: the same embeddings as ``clip.encode_text``, less work.

Captions in one batch differ in length (26 to 61 MiniLM tokens in the bench's pairs, half of
them cut to one sentence by the recipe's augmentation); a padded batch spends most of the text
tower's matrix products on padding. Two exact shortcuts:

- Hugging Face BERT towers with mean pooling (the offline default's MiniLM): every linear layer,
  norm and activation runs on the packed real tokens ``(N, H)``; only attention scatters them
  back into the padded layout, where padded keys are masked exactly as the padded model does.
- open_clip's own causal text tower (``CLIP``, pooled at the end-of-text token): with a causal
  mask no real token attends to the padding after it, so trailing padding columns can be cut.

Anything else falls back to ``clip.encode_text`` unchanged.

A locked text trunk (LiT on both towers: only the projection trains) gives the same pooled
features every time a caption recurs, so :class:`LockedTextFeatures` computes them once per
distinct caption and only the projection runs each step.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from open_clip.hf_model import HFTextEncoder, MeanPooler
from open_clip.model import CLIP
from open_clip.transformer import text_global_pool
from torch import Tensor, nn

_TRIMMABLE_POOLS = ("argmax", "eos")


def can_trim_padding(clip: nn.Module) -> bool:
    """Whether ``clip``'s text tower gives the same embedding for a caption with its trailing
    padding columns cut (see :func:`cosmoalign.train.data.trim_padding`)."""
    if isinstance(getattr(clip, "text", None), HFTextEncoder):
        return True  # Hugging Face towers mask padding themselves
    return _causal_clip_text(clip)


def encode_text(clip: nn.Module, tokens: Tensor) -> Tensor:
    """``clip.encode_text(tokens, normalize=True)``, computed on the real tokens only where the
    tower allows it exactly."""
    if not _has_split_text(clip) or (
        _causal_clip_text(clip) and tokens.shape[1] >= clip.positional_embedding.shape[0]
    ):
        return clip.encode_text(tokens, normalize=True)
    return F.normalize(project_text(clip, text_trunk_features(clip, tokens)), dim=-1)


def text_trunk_features(clip: nn.Module, tokens: Tensor) -> Tensor:
    """The text tower's pooled features before its projection, ``(B, H)``, on real tokens."""
    text = getattr(clip, "text", None)
    if isinstance(text, HFTextEncoder):
        return packed_bert_mean(text.transformer, tokens, text.config.pad_token_id)
    return _trimmed_causal_pool(clip, tokens)


def project_text(clip: nn.Module, features: Tensor) -> Tensor:
    """The text tower's projection of pooled trunk features into the joint space."""
    if isinstance(getattr(clip, "text", None), HFTextEncoder):
        return clip.text.proj(features)
    if isinstance(clip.text_projection, nn.Linear):
        return clip.text_projection(features)
    return features if clip.text_projection is None else features @ clip.text_projection


class LockedTextFeatures:
    """Normalised text embeddings for a locked text trunk, its pooled features computed once
    per distinct caption (short captions and region phrases recur across steps and epochs).

    Exact as long as the trunk does not change: its parameters frozen and it in eval mode
    (dropout off), which :func:`text_trunk_locked` checks at construction. At most
    ``max_captions`` are kept, the least recently used leaving first (200k x 384 float32 is
    about 300 MB).
    """

    def __init__(self, clip: nn.Module, pad_id: int, max_captions: int = 200_000) -> None:
        self.clip = clip
        self.pad_id = pad_id
        self.max_captions = max_captions
        self.features: OrderedDict[bytes, Tensor] = OrderedDict()

    def __call__(self, tokens: Tensor) -> Tensor:
        keys = [self._key(row) for row in tokens]
        missing = [i for i, key in enumerate(keys) if key not in self.features]
        pooled = [self.features.get(key) for key in keys]
        if missing:
            with torch.no_grad():
                fresh = text_trunk_features(self.clip, tokens[missing])
            for i, row in zip(missing, fresh, strict=True):
                pooled[i] = self.features[keys[i]] = row
        for key in keys:
            self.features.move_to_end(key)
        while len(self.features) > self.max_captions:
            self.features.popitem(last=False)
        return F.normalize(project_text(self.clip, torch.stack(pooled)), dim=-1)

    def _key(self, row: Tensor) -> bytes:
        """The caption's real tokens (padding trails), whatever the batch's padded length."""
        length = int((row != self.pad_id).sum())
        return row[:length].cpu().numpy().tobytes()


def locked_text_features(clip: nn.Module) -> LockedTextFeatures | None:
    """A caption cache for ``clip`` when its text trunk is locked and can be split from its
    projection, else None."""
    if not (_has_split_text(clip) and text_trunk_locked(clip)):
        return None
    text = getattr(clip, "text", None)
    pad_id = text.config.pad_token_id if isinstance(text, HFTextEncoder) else 0
    return LockedTextFeatures(clip, pad_id)


def text_trunk_locked(clip: nn.Module) -> bool:
    """Whether every text parameter but the projection is frozen and the trunk is in eval mode."""
    trunk = _text_trunk_modules(clip)
    return text_trunk_frozen(clip) and not any(module.training for module in trunk)


def text_trunk_frozen(clip: nn.Module) -> bool:
    """Whether every parameter of the text trunk (all but its projection) is frozen."""
    if not _has_split_text(clip):
        return False
    params = [p for module in _text_trunk_modules(clip) for p in module.parameters(recurse=False)]
    params += [p for name, p in clip.named_parameters() if name == "positional_embedding"]
    return not any(p.requires_grad for p in params)


def keep_text_trunk_in_eval(clip: nn.Module) -> None:
    """A frozen text trunk runs in eval mode (no dropout): locked means its features do not
    change."""
    if text_trunk_frozen(clip):
        for module in _text_trunk_modules(clip):
            module.eval()


def _text_trunk_modules(clip: nn.Module) -> list[nn.Module]:
    text = getattr(clip, "text", None)
    if isinstance(text, HFTextEncoder):
        return list(text.transformer.modules())
    return [
        module
        for name in ("token_embedding", "transformer", "ln_final")
        for module in getattr(clip, name).modules()
    ]


def _has_split_text(clip: nn.Module) -> bool:
    text = getattr(clip, "text", None)
    if isinstance(text, HFTextEncoder):
        return _packable_bert(text)
    return _causal_clip_text(clip)


def _packable_bert(text: HFTextEncoder) -> bool:
    config = text.config
    return (
        type(text.transformer).__name__ == "BertModel"
        and isinstance(text.pooler, MeanPooler)
        and not text.output_tokens
        and not config.is_decoder
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
    )


def packed_bert_mean(bert: nn.Module, tokens: Tensor, pad_id: int) -> Tensor:
    """Mean of BERT's last hidden states over each row's non-pad tokens, ``(B, H)``, computing
    every per-token layer on the real tokens alone (dropout as in the module's mode)."""
    batch, length = tokens.shape
    real = tokens != pad_id
    where = real.flatten().nonzero().squeeze(1)  # positions of real tokens in (B * L)
    row = where // length
    embeddings = bert.embeddings
    x = (
        embeddings.word_embeddings(tokens.flatten()[where])
        + embeddings.position_embeddings(where % length)
        + embeddings.token_type_embeddings.weight[0]
    )
    x = embeddings.dropout(embeddings.LayerNorm(x))
    keys = real[:, None, None, :]  # (B, 1, 1, L): attend to real keys only
    for layer in bert.encoder.layer:
        attention = layer.attention.self
        heads, size = attention.num_attention_heads, attention.attention_head_size

        def padded(values: Tensor, heads=heads, size=size) -> Tensor:
            full = values.new_zeros(batch * length, values.shape[1]).index_copy(0, where, values)
            return full.view(batch, length, heads, size).transpose(1, 2)

        mixed = F.scaled_dot_product_attention(
            padded(attention.query(x)),
            padded(attention.key(x)),
            padded(attention.value(x)),
            attn_mask=keys,
            dropout_p=attention.dropout.p if attention.training else 0.0,
            scale=attention.scaling,
        )
        mixed = mixed.transpose(1, 2).reshape(batch * length, -1)[where]
        out = layer.attention.output
        x = out.LayerNorm(out.dropout(out.dense(mixed)) + x)
        hidden = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x))
        x = layer.output.LayerNorm(layer.output.dropout(layer.output.dense(hidden)) + x)
    total = x.new_zeros(batch, x.shape[1]).index_add(0, row, x)
    return total / real.sum(dim=1, keepdim=True).to(x.dtype)


def _causal_clip_text(clip: nn.Module) -> bool:
    return (
        isinstance(clip, CLIP)
        and clip.attn_mask is not None
        and getattr(clip, "text_pool_type", None) in _TRIMMABLE_POOLS
    )


def _trimmed_causal_pool(clip: CLIP, tokens: Tensor) -> Tensor:
    """``CLIP.encode_text``'s pooled features, before the projection, on the first ``L``
    context positions (causal: exact)."""
    length = tokens.shape[1]
    cast = clip.transformer.get_cast_dtype()
    x = clip.token_embedding(tokens).to(cast) + clip.positional_embedding[:length].to(cast)
    x = clip.ln_final(clip.transformer(x, attn_mask=clip.attn_mask[:length, :length]))
    return text_global_pool(
        x, tokens, clip.text_pool_type, eos_token_id=getattr(clip, "text_eos_id", None)
    )
