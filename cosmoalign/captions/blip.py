"""BLIP captions (Salesforce/blip-image-captioning-*), conditioned on a text prompt."""

from __future__ import annotations

from typing import Any

from cosmoalign.captions.hf_common import HfCaptioner, normalise_whitespace


def strip_prompt(text: str, prompt: str) -> str:
    """``text`` without a leading ``prompt`` (case-insensitive), whitespace normalised."""
    text, prompt = normalise_whitespace(text), normalise_whitespace(prompt)
    if prompt and text.lower().startswith(prompt.lower()):
        text = text[len(prompt) :]
    return text.strip()


class BlipCaptioner(HfCaptioner):
    """Conditional BLIP captioning: the model continues ``prompt`` for each image.

    ``model`` is a hub id or a local directory holding the model and its ``BlipProcessor``.
    """

    name = "blip"
    model_class = "BlipForConditionalGeneration"
    processor_class = "BlipProcessor"

    def __init__(
        self,
        model: str = "Salesforce/blip-image-captioning-base",
        prompt: str = "an astronomical image of",
        batch_size: int = 16,
        max_new_tokens: int = 30,
        device: str | None = None,
    ):
        super().__init__(model, batch_size, max_new_tokens, device)
        self.prompt = prompt

    def prompt_parts(self) -> tuple[str, ...]:
        """The prompt and the generation length."""
        return self.prompt, str(self.max_new_tokens)

    def describe(self, model: Any, processor: Any, images: list[Any]) -> list[str]:
        """Continue the prompt for each image and return the text after it."""
        inputs = processor(images=images, text=[self.prompt] * len(images), return_tensors="pt")
        inputs = inputs.to(model.device, model.dtype)
        ids = model.generate(**inputs, **self.generate_kwargs())
        texts = processor.batch_decode(ids, skip_special_tokens=True)
        return [strip_prompt(text, self.prompt) for text in texts]
