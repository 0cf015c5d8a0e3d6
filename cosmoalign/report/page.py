"""A self-contained HTML evaluation report: tables, plots and gallery images all inlined."""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence

import numpy as np

from cosmoalign.files import atomic_write
from cosmoalign.preview import thumbnail_png
from cosmoalign.report import plots
from cosmoalign.report.key_numbers import DETAIL_COLUMNS, KEY_COLUMNS, Column, format_value, heading

Neighbour = tuple[bytes, str, str | int]  # encoded image, caption, class label
GalleryQuery = tuple[bytes, str, Sequence[Neighbour]]  # encoded image, caption, neighbours

GALLERY_TILE = 96  # pixels: gallery images are shown as square thumbnails of this size

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1em 0; }
.gallery td { vertical-align: top; text-align: center; width: 110px; font-size: 0.75em; }
.gallery .query { background: #eef; }
"""


def render_report(
    results: Mapping,
    *,
    embeddings: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    gallery: Sequence[GalleryQuery] | None = None,
    title: str,
    cache_dir: str | os.PathLike | None = None,
) -> str:
    """The evaluation report of one dataset as a single HTML page.

    ``results`` is ``{"dataset", "class_names", "models": {name: {"zero_shot", "retrieval",
    "similarity", "linear_probe"}}}`` with each metric as its result's ``to_dict()``.
    A metric that could not be measured is ``None`` (shown as ``-``; no retrieval plot without
    captions). ``embeddings`` and integer class ``labels`` (of one model, usually the fine-tuned
    one) add a 2-D map, whose projection is cached in ``cache_dir`` when given; ``gallery`` adds
    rows of a query image followed by its nearest neighbours.
    """
    if (embeddings is None) != (labels is None):
        raise ValueError("embeddings and labels go together: give both or neither")
    models = results["models"]
    class_names = list(results["class_names"])
    sections = [
        _section("Key numbers", _table(results, KEY_COLUMNS, "key-numbers")),
        _section("More numbers", _table(results, DETAIL_COLUMNS, "details")),
        _section(
            "Zero-shot confusion",
            _figure(
                plots.confusion_matrices_png(
                    class_names, {name: m["zero_shot"]["confusion"] for name, m in models.items()}
                ),
                "Zero-shot confusion matrices (rows: true class, columns: predicted)",
            ),
        ),
        _section(
            "Zero-shot recall per class",
            _figure(
                plots.per_class_recall_png(
                    class_names,
                    {name: m["zero_shot"]["per_class_recall"] for name, m in models.items()},
                ),
                "Zero-shot recall of each class",
            ),
        ),
    ]
    measured = {name: m["retrieval"] for name, m in models.items() if m["retrieval"]}
    if measured:  # a dataset without captions has no retrieval
        sections.append(
            _section(
                "Retrieval",
                _figure(
                    plots.recall_curves_png(
                        {
                            name: {
                                "image → text": r["image_to_text"]["recall_curve"],
                                "text → image": r["text_to_image"]["recall_curve"],
                            }
                            for name, r in measured.items()
                        }
                    ),
                    "Recall@k of the paired caption (image → text) and image (text → image)",
                ),
            )
        )
    if embeddings is not None:
        sections.append(
            _section(
                "Embedding map",
                _figure(
                    plots.embedding_map_png(embeddings, labels, class_names, cache_dir=cache_dir),
                    f"Image embeddings of {len(embeddings)} images, coloured by class",
                ),
            )
        )
    if gallery:
        sections.append(_section("Nearest neighbours", _gallery(gallery)))
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f"<p>Dataset: {html.escape(str(results['dataset']))}</p>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def write_report(path: str | os.PathLike, html_text: str) -> None:
    """Write the report atomically: to a temporary file beside ``path``, then rename it."""
    atomic_write(path, html_text)


def _table(results: Mapping, columns: Sequence[Column], table_class: str) -> str:
    """One row per model; each cell shows three decimals and keeps the exact value in data-value."""
    header = "".join(f"<th>{html.escape(heading(c, results))}</th>" for c in columns)
    rows = []
    for model, model_results in results["models"].items():
        cells = "".join(_cell(column.key, column.value(model_results)) for column in columns)
        name = html.escape(model)
        rows.append(f"<tr data-model='{name}'><td>{name}</td>{cells}</tr>")
    return (
        f"<table class='{table_class}'>\n<tr><th>model</th>{header}</tr>\n"
        + "\n".join(rows)
        + "\n</table>"
    )


def _cell(metric: str, value: float) -> str:
    return f"<td data-metric='{metric}' data-value='{value!r}'>{format_value(value)}</td>"


def _gallery(gallery: Sequence[GalleryQuery]) -> str:
    rows = []
    for query_image, query_caption, neighbours in gallery:
        cells = [_tile(query_image, query_caption, "query", "query")]
        cells += [_tile(image, caption, str(label)) for image, caption, label in neighbours]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table class='gallery'>\n" + "\n".join(rows) + "\n</table>"


def _tile(image: bytes, caption: str, label: str, cell_class: str = "") -> str:
    png = thumbnail_png(image, GALLERY_TILE)
    return (
        f"<td class='{cell_class}'>{_img(png, caption)}<br><b>{html.escape(label)}</b>"
        f"<br>{html.escape(caption)}</td>"
    )


def _figure(png: bytes, caption: str) -> str:
    return f"<figure>{_img(png, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>"


def _section(title: str, body: str) -> str:
    return f"<section>\n<h2>{html.escape(title)}</h2>\n{body}\n</section>"
