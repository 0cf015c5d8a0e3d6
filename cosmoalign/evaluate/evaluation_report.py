"""A recipe's evaluation: its fine-tuned model against the base, in and out of domain, as one
results dict, one HTML page, a markdown table and a long Parquet table of key numbers."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from cosmoalign.evaluate.data import EvalSet, from_folder, from_lake, load_prompt_mapping
from cosmoalign.evaluate.run import compare
from cosmoalign.models import ModelSpec, build_model
from cosmoalign.models.spec import LOCAL_DIR_PREFIX
from cosmoalign.report import key_numbers_markdown, render_report
from cosmoalign.report.key_numbers import KEY_COLUMNS

LAKE_PREFIX = "lake:"
KEY_NUMBERS_SCHEMA = pa.schema(
    [
        pa.field("eval_set", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
    ]
)


@dataclass(frozen=True)
class RecipeEvaluation:
    """Everything an evaluation asset stores and reports."""

    results: dict
    """``{"in_domain": <results>, "out_of_domain": {name: <results>}}`` (report format)."""
    html: str
    markdown: str
    key_numbers: pa.Table
    headline: dict[str, float]


def evaluate_recipe(
    *,
    lake_root: str,
    partition: str,
    base: dict,
    fine_tuned: str | os.PathLike,
    split: str = "test",
    out_of_domain: Sequence[str] = (),
    prompts: str | None = None,
    batch_size: int = 64,
    cache_dir: str | os.PathLike | None = None,
    title: str,
) -> RecipeEvaluation:
    """Compare the base model (``base``: arch, pretrained, image_size, seed) with the exported
    fine-tuned model on the partition's ``split`` and on each out-of-domain set."""
    mapping = load_prompt_mapping(prompts) if prompts else None
    base_spec = ModelSpec(base["arch"], base.get("pretrained"), base.get("image_size"))
    models = {
        "base": build_model(base_spec, base.get("seed", 0)),
        "fine-tuned": build_model(ModelSpec(f"{LOCAL_DIR_PREFIX}{Path(fine_tuned).resolve()}")),
    }
    sets = {"in_domain": from_lake(lake_root, partition, split, mapping)}
    sets |= {name: _eval_set(lake_root, name, split, mapping) for name in out_of_domain}
    results, pages = {}, []
    for name, evalset in sets.items():
        measured, extras = compare(models, evalset, batch_size=batch_size, cache_dir=cache_dir)
        results[name] = measured
        pages.append(render_report(measured, **extras, title=f"{title}: {evalset.name}"))
    markdown = "\n".join(
        f"**{sets[name].name}**\n\n{key_numbers_markdown(measured)}"
        for name, measured in results.items()
    )
    in_domain = results["in_domain"]["models"]
    top1 = {model: in_domain[model]["zero_shot"]["top1"] for model in ("base", "fine-tuned")}
    return RecipeEvaluation(
        results={
            "in_domain": results["in_domain"],
            "out_of_domain": {k: v for k, v in results.items() if k != "in_domain"},
        },
        html=_merge_pages(pages),
        markdown=markdown,
        key_numbers=_long_table(results),
        headline={
            "top1_base": top1["base"],
            "top1_fine_tuned": top1["fine-tuned"],
            "top1_gain": top1["fine-tuned"] - top1["base"],
        },
    )


def _eval_set(lake_root: str, name: str, split: str, mapping: dict | None) -> EvalSet:
    if name.startswith(LAKE_PREFIX):
        return from_lake(lake_root, name.removeprefix(LAKE_PREFIX), split, mapping)
    return from_folder(name, None, mapping)


def _long_table(results: dict[str, dict]) -> pa.Table:
    rows = []
    for eval_set, measured in results.items():
        for model, metrics in measured["models"].items():
            for column in KEY_COLUMNS:
                value = column.value(metrics)  # NaN when not measured (e.g. no captions)
                rows.append(
                    {
                        "eval_set": eval_set,
                        "model": model,
                        "metric": column.key,
                        "value": None if math.isnan(value) else value,
                    }
                )
    return pa.Table.from_pylist(rows, schema=KEY_NUMBERS_SCHEMA)


def _merge_pages(pages: list[str]) -> str:
    """One page: the first report, then the bodies of the others as sections."""
    first, *others = pages
    bodies = [re.search(r"<body>\n(.*)</body>", page, re.S).group(1) for page in others]
    bodies = [body.replace("<h1>", "<h2>").replace("</h1>", "</h2>") for body in bodies]
    return first.replace("</body>", "\n".join(bodies) + "</body>", 1)
