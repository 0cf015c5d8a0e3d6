"""Search results as a text table, JSON for scripts, and a self-contained HTML gallery."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

THUMBNAIL_SIZE = 128


@dataclass(frozen=True)
class Hit:
    """One search result: a path (folder search) or object_id (lake search) and its score."""

    rank: int
    id: str
    score: float
    label: str | None = None
    image: bytes | None = None
    """A JPEG/PNG thumbnail of what the model saw, for the gallery."""


def thumbnail(image: bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """A JPEG no larger than ``size`` pixels a side of encoded image bytes."""
    with Image.open(io.BytesIO(image)) as opened:
        small = opened.convert("RGB")
        small.thumbnail((size, size))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=85)
    return out.getvalue()


def format_table(hits: Sequence[Hit]) -> str:
    """Rank, score, label and id of each hit, one per line."""
    width = max([len("id"), *(len(hit.id) for hit in hits)])
    lines = [f"{'rank':>4}  {'score':>6}  {'label':<16}  {'id':<{width}}"]
    for hit in hits:
        label = hit.label or "-"
        lines.append(f"{hit.rank:>4}  {hit.score:>6.3f}  {label:<16}  {hit.id:<{width}}")
    return "\n".join(lines)


def hits_json(query: dict, model: str, hits: Sequence[Hit]) -> str:
    """The query, the model and the hits (rank, id, score, label) as JSON."""
    return json.dumps(
        {
            "query": query,
            "model": model,
            "hits": [
                {"rank": h.rank, "id": h.id, "score": round(h.score, 6), "label": h.label}
                for h in hits
            ],
        },
        indent=2,
    )


def render_gallery(
    title: str, query: str, hits: Sequence[Hit], query_image: bytes | None = None
) -> str:
    """One HTML page with every image inlined (base64): nothing is fetched when it opens."""
    cards = "\n".join(_card(hit) for hit in hits)
    shown = f'<img src="{_data_uri(query_image)}" alt="query image">' if query_image else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; background: #0d1117; color: #e6edf3; }}
h1 {{ font-size: 1.2rem; margin: 0 0 .3rem; }}
.query {{ display: flex; gap: 1rem; align-items: center; margin-bottom: 1rem; color: #9da7b3; }}
.query img {{ width: 96px; height: 96px; object-fit: cover; border: 2px solid #f0b429; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
         gap: .8rem; }}
figure {{ margin: 0; background: #161b22; border-radius: 6px; padding: .4rem; }}
figure img {{ width: 100%; aspect-ratio: 1; object-fit: cover; border-radius: 4px; }}
figcaption {{ font-size: .75rem; line-height: 1.3; word-break: break-all; }}
.score {{ color: #f0b429; font-weight: 600; }}
.label {{ color: #7ee787; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="query">{shown}<span>query: {html.escape(query)} &middot; {len(hits)} hits</span></div>
<div class="grid">
{cards}
</div>
</body></html>
"""


def _card(hit: Hit) -> str:
    image = f'<img src="{_data_uri(hit.image)}" alt="{html.escape(hit.id)}">' if hit.image else ""
    label = f' <span class="label">{html.escape(hit.label)}</span>' if hit.label else ""
    return (
        f"<figure>{image}<figcaption>#{hit.rank} "
        f'<span class="score">{hit.score:.3f}</span>{label}<br>{html.escape(hit.id)}'
        "</figcaption></figure>"
    )


def _data_uri(image: bytes) -> str:
    kind = "png" if image.startswith(b"\x89PNG") else "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(image).decode()}"
