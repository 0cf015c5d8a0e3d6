"""The symbols table: one schematic symbol image and text per class of a label set."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from cosmoalign.imaging import encode_png
from cosmoalign.schema import ORIGINAL, SYMBOL_SCHEMA
from cosmoalign.symbol_drawing import render_symbol, symbol_key, symbol_text


def symbols_table(classes: Iterable[tuple[int, str]]) -> tuple[pa.Table, list[str]]:
    """Symbol rows for ``(label, label_name)`` classes, and the class names without a symbol."""
    rows, missing = [], []
    for label, name in sorted(set(classes)):
        try:
            key = symbol_key(name)
        except ValueError:
            missing.append(name)
            continue
        rows.append(
            {
                "label": label,
                "label_name": name,
                "symbol_key": key,
                "text": symbol_text(key),
                "image_png": encode_png(render_symbol(key)),
                "provenance": ORIGINAL,
            }
        )
    return pa.Table.from_pylist(rows, schema=SYMBOL_SCHEMA), missing
