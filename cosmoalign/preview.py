"""Small previews of image tables for humans: a labelled grid of sample images per class."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw


def image_grid(
    samples: Mapping[str, Sequence[bytes]], tile: int = 64, label_width: int = 150
) -> bytes:
    """One row per class: its name, then up to ``len(samples[name])`` thumbnails. Returns PNG."""
    columns = max((len(images) for images in samples.values()), default=0)
    rows = len(samples)
    canvas = Image.new("RGB", (label_width + columns * tile, max(rows, 1) * tile), "white")
    draw = ImageDraw.Draw(canvas)
    for row, (name, images) in enumerate(samples.items()):
        draw.text((4, row * tile + tile // 2 - 6), name[:24], fill="black")
        for column, data in enumerate(images):
            canvas.paste(_thumbnail(data, tile), (label_width + column * tile, row * tile))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def thumbnail_png(data: bytes, size: int = 64) -> bytes:
    """A small PNG thumbnail of an encoded image."""
    buffer = io.BytesIO()
    _thumbnail(data, size).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _thumbnail(data: bytes, size: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
