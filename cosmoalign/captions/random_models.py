"""Random-weight BLIP and LLaVA models with their processors, built from configs with no download.

They run the real captioning code paths in tests (``tiny``) and measure speed in benchmarks
(``base``: BLIP-base's shapes, where weights do not matter for throughput).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BLIP_BASE_VOCAB = 30524
WORDS = "a an the of astronomical image galaxy spiral arm bar bulge disk ring red blue"
IMAGE_SIZE = 32
PATCH_SIZE = 8
TINY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
}
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: "
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def sample_images(n: int = 3, size: int = 40, seed: int = 0) -> list[np.ndarray]:
    """``n`` random uint8 RGB images of ``size`` x ``size`` pixels."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def build_random_blip(path: Path, seed: int = 0, base: bool = False) -> Path:
    """Save a random BLIP captioning model and its processor to ``path``.

    ``base`` gives BLIP-base's architecture (ViT-B/16 at 384 px, BERT-base decoder, its vocabulary
    size); otherwise a tiny one for tests.
    """
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    tokens = specials + WORDS.split()
    if base:
        tokens += [f"[unused{i}]" for i in range(BLIP_BASE_VOCAB - len(tokens))]
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
    ids = {"pad_token_id": 0, "sep_token_id": 3, "bos_token_id": 5, "eos_token_id": 3}
    if base:
        image_size = 384
        config = BlipConfig(text_config={**ids, "vocab_size": len(vocab)})
    else:
        image_size = IMAGE_SIZE
        config = BlipConfig(
            text_config={**TINY, **ids, "vocab_size": len(vocab), "max_position_embeddings": 64},
            vision_config={**TINY, "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE},
            projection_dim=32,
        )
    torch.manual_seed(seed)
    BlipForConditionalGeneration(config).save_pretrained(path)
    image_processor = BlipImageProcessor(size={"height": image_size, "width": image_size})
    BlipProcessor(image_processor, tokenizer).save_pretrained(path)
    return path


def build_tiny_llava(path: Path, chat_template: str | None = CHAT_TEMPLATE, seed: int = 0) -> Path:
    """Save a random LLaVA model and its processor (``chat_template`` optional) to ``path``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    specials = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
    vocab = {token: i for i, token in enumerate(specials + WORDS.split() + [":", ",", "."])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )
    ids = {"pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3}
    config = LlavaConfig(
        vision_config={
            **TINY,
            "model_type": "clip_vision_model",
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
        },
        text_config={
            **TINY,
            **ids,
            "model_type": "llama",
            "vocab_size": len(vocab),
            "num_key_value_heads": 2,
            "max_position_embeddings": 256,
        },
        image_token_index=vocab["<image>"],
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        **ids,
    )
    torch.manual_seed(seed)
    LlavaForConditionalGeneration(config).save_pretrained(path)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = LlavaProcessor(
        image_processor,
        tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        chat_template=chat_template,
        num_additional_image_tokens=1,
    )
    processor.save_pretrained(path)
    return path
