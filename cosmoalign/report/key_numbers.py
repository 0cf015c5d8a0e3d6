"""The headline numbers of each evaluated model, shared by the HTML report and Dagster metadata.

``results["models"][model]`` holds the ``to_dict()`` of each metric result of
:mod:`cosmoalign.evaluate.metrics` under ``zero_shot``, ``retrieval``, ``similarity`` and
``linear_probe``; a column reads one value from it along a key path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A table column: its heading and the key path of its value in a model's results."""

    heading: str
    path: tuple[str, ...]

    @property
    def key(self) -> str:
        return ".".join(self.path)

    def value(self, model_results: Mapping) -> float:
        """The number, or NaN when the metric was not measured (``None`` in the results)."""
        value = model_results
        for key in self.path:
            if value is None:
                return math.nan
            value = value[key]
        return math.nan if value is None else float(value)


KEY_COLUMNS = (
    Column("top-1", ("zero_shot", "top1")),
    Column("top-5", ("zero_shot", "top5")),
    Column("balanced acc", ("zero_shot", "balanced_accuracy")),
    Column("I→T R@1", ("retrieval", "image_to_text", "r1")),
    Column("T→I R@1", ("retrieval", "text_to_image", "r1")),
    Column("mAP@k", ("similarity", "map_at_k")),
    Column("probe acc", ("linear_probe", "accuracy_mean")),
)

DETAIL_COLUMNS = (
    Column("I→T R@5", ("retrieval", "image_to_text", "r5")),
    Column("I→T R@10", ("retrieval", "image_to_text", "r10")),
    Column("I→T median rank", ("retrieval", "image_to_text", "median_rank")),
    Column("T→I R@5", ("retrieval", "text_to_image", "r5")),
    Column("T→I R@10", ("retrieval", "text_to_image", "r10")),
    Column("T→I median rank", ("retrieval", "text_to_image", "median_rank")),
    Column("precision@k", ("similarity", "precision_at_k")),
    Column("probe acc std", ("linear_probe", "accuracy_std")),
)


def heading(column: Column, results: Mapping) -> str:
    """The column heading, with the similarity cutoff filled in when all models share it."""
    if "@k" not in column.heading:
        return column.heading
    cutoffs = {
        model["similarity"]["k"] for model in results["models"].values() if model["similarity"]
    }
    if len(cutoffs) != 1:
        return column.heading
    return column.heading.replace("@k", f"@{cutoffs.pop()}")


def format_value(value: float) -> str:
    """How every table shows a number: three decimals, ``-`` when not measured."""
    return "-" if math.isnan(value) else f"{value:.3f}"


def key_numbers_markdown(results: Mapping) -> str:
    """A markdown table of the key numbers: one row per model, as in the HTML report."""
    headings = ["model", *(heading(column, results) for column in KEY_COLUMNS)]
    lines = [_markdown_row(headings), _markdown_row(["---"] * len(headings))]
    for model, model_results in results["models"].items():
        values = [format_value(column.value(model_results)) for column in KEY_COLUMNS]
        lines.append(_markdown_row([model, *values]))
    return "\n".join(lines) + "\n"


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
