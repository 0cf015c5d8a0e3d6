"""Galaxy descriptions from a multimodal LLM through transformers' image-text-to-text API."""

from __future__ import annotations

import re
from typing import Any

from cosmoalign.captions.hf_common import HfCaptioner, normalise_whitespace

FEATURES_MARKER = "Features:"
PROMPTS = {
    "v1": (
        "Describe this galaxy image for an astronomer in two or three sentences: its shape, "
        "structure (arms, bar, bulge, disk, rings), light profile, colour, and any neighbours, "
        "tidal features or artefacts. Then write 'Features:' followed by a comma-separated list "
        "of short visual features."
    ),
}
_FEATURES = re.compile(re.escape(FEATURES_MARKER), re.IGNORECASE)
_SEPARATORS = re.compile(r"[,;\n]|(?:^|\s)(?:[-*\u2022]|\d+[.)])\s+", re.MULTILINE)


def parse_features(text: str) -> list[str]:
    """The feature list after the last ``Features:`` in an answer; ``[]`` if there is none.

    Items may be separated by commas, semicolons, new lines, bullets or numbers; they come back
    lower-cased, trimmed of punctuation and de-duplicated, in order.
    """
    parts = _FEATURES.split(text)
    if len(parts) < 2:
        return []
    items = (
        normalise_whitespace(item).strip(" .:").lower() for item in _SEPARATORS.split(parts[-1])
    )
    return list(dict.fromkeys(item for item in items if item))


class MllmCaptioner(HfCaptioner):
    """Asks an image-text-to-text model (Qwen2-VL, LLaVA, SmolVLM, ...) to describe each galaxy.

    The prompt is ``PROMPTS[prompt_version]``, wrapped in the processor's chat template. A
    processor without a chat template gets a plain prompt, ``<image token>\\n<prompt>\\n``: it
    runs, but an instruction-tuned model answers better through its own template. The returned
    caption is the whole answer, whitespace normalised; ``parse_features`` pulls out the list.
    """

    name = "mllm"
    model_class = "AutoModelForImageTextToText"
    processor_class = "AutoProcessor"

    def __init__(
        self,
        model: str,
        prompt_version: str = "v1",
        batch_size: int = 4,
        max_new_tokens: int = 96,
        device: str | None = None,
    ):
        if prompt_version not in PROMPTS:
            raise ValueError(f"unknown prompt_version {prompt_version!r}; known: {sorted(PROMPTS)}")
        super().__init__(model, batch_size, max_new_tokens, device)
        self.prompt_version = prompt_version

    @property
    def prompt(self) -> str:
        """The instruction sent with every image."""
        return PROMPTS[self.prompt_version]

    def prompt_parts(self) -> tuple[str, ...]:
        """The prompt text and the generation length."""
        return self.prompt, str(self.max_new_tokens)

    def chat_text(self, processor: Any) -> str:
        """The model input text for one image: chat template if the processor has one."""
        if getattr(processor, "chat_template", None):
            content = [{"type": "image"}, {"type": "text", "text": self.prompt}]
            messages = [{"role": "user", "content": content}]
            return processor.apply_chat_template(messages, add_generation_prompt=True)
        return f"{getattr(processor, 'image_token', '<image>')}\n{self.prompt}\n"

    def describe(self, model: Any, processor: Any, images: list[Any]) -> list[str]:
        """Answer the prompt for each image; only the newly generated tokens are decoded."""
        processor.tokenizer.padding_side = "left"
        text = [self.chat_text(processor)] * len(images)
        inputs = processor(images=images, text=text, padding=True, return_tensors="pt")
        inputs = inputs.to(model.device, model.dtype)
        ids = model.generate(**inputs, **self.generate_kwargs())
        answers = processor.batch_decode(
            ids[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return [normalise_whitespace(answer) for answer in answers]
