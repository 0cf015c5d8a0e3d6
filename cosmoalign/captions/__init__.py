"""Captioners: images in, descriptions out, each stamped with name, version and prompt hash."""

from cosmoalign.captions.base import Captioner, CaptionerInfo, Region, compose_caption, prompt_hash

__all__ = ["Captioner", "CaptionerInfo", "Region", "compose_caption", "prompt_hash"]
