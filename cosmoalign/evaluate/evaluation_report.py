"""A recipe's evaluation: its fine-tuned model against the base, in and out of domain, as one
results dict, one HTML page, a markdown table and a long Parquet table of key numbers."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from cosmoalign.evaluate.data import (
    LAKE_PREFIX,
    EvalSet,
    from_folder,
    from_lake,
    load_prompt_mapping,
)
from cosmoalign.evaluate.real_sets import REAL_SET_NAME, real_set
from cosmoalign.evaluate.run import compare
from cosmoalign.lake import Lake
from cosmoalign.models import ModelSpec, build_model
from cosmoalign.models.spec import LOCAL_DIR_PREFIX
from cosmoalign.report.key_numbers import KEY_COLUMNS, key_numbers_markdown
from cosmoalign.report.page import render_report

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


@dataclass(frozen=True)
class RecipeComparison:
    """The recipes side by side with their base: what ``comparison_report`` stores and reports."""

    results: dict
    """The in-domain results (report format, one model per recipe after ``base``) and
    ``"out_of_domain": {name: <results>}`` of the sets the recipes were also evaluated on."""
    html: str
    markdown: str


def evaluate_recipe(
    *,
    lake_root: str,
    partition: str,
    base: dict,
    fine_tuned: str | os.PathLike,
    split: str = "test",
    out_of_domain: Sequence[str] = (),
    prompts: str | None = None,
    real_eval: str | os.PathLike | None = None,
    batch_size: int = 64,
    cache_dir: str | os.PathLike | None = None,
    title: str,
    storage_options: Mapping[str, str] | None = None,
) -> RecipeEvaluation:
    """Compare the base model (``base``: arch, pretrained, image_size, seed) with the exported
    fine-tuned model on the partition's ``split`` and on each out-of-domain set.

    ``prompts`` maps class names to prompt texts in the split and the ``out_of_domain`` sets;
    ``real_eval`` (see :func:`~cosmoalign.evaluate.real_sets.real_eval_folder`) adds the real
    benchmark, with its own prompts, under :data:`~cosmoalign.evaluate.real_sets.REAL_SET_NAME`.
    ``storage_options`` are those of the lake when it is on an object store. ``cache_dir`` keeps
    what a later evaluation reuses: embeddings, probes, rendered folder images, map projections.
    """
    mapping = load_prompt_mapping(prompts) if prompts else None
    base_spec = ModelSpec(base["arch"], base.get("pretrained"), base.get("image_size"))
    models = {
        "base": build_model(base_spec, base.get("seed", 0)),
        "fine-tuned": build_model(ModelSpec(f"{LOCAL_DIR_PREFIX}{Path(fine_tuned).resolve()}")),
    }
    lake = Lake(lake_root, storage_options)
    sets = {"in_domain": from_lake(lake, partition, split, mapping)}
    sets |= {name: _eval_set(lake, name, split, mapping, cache_dir) for name in out_of_domain}
    if real_eval is not None:
        sets[REAL_SET_NAME] = real_set(real_eval, cache_dir)
    results, extras = {}, {}
    for name, evalset in sets.items():
        results[name], extras[name] = compare(
            models, evalset, batch_size=batch_size, cache_dir=cache_dir
        )
    html, markdown = _reports(results, title, extras, cache_dir)
    headline = _headline(results["in_domain"])
    if REAL_SET_NAME in results:
        headline |= {f"real_{k}": v for k, v in _headline(results[REAL_SET_NAME]).items()}
    return RecipeEvaluation(
        results={
            "in_domain": results["in_domain"],
            "out_of_domain": {k: v for k, v in results.items() if k != "in_domain"},
        },
        html=html,
        markdown=markdown,
        key_numbers=_long_table(results),
        headline=headline,
    )


def compare_recipes(evaluations: Mapping[str, Mapping], *, title: str) -> RecipeComparison:
    """Base and each recipe's fine-tuned model side by side, from the recipes' evaluation
    results (``RecipeEvaluation.results`` by recipe): in domain, and on every out-of-domain set
    (the real benchmark among them) with the recipes evaluated on it. The base comes from the
    first recipe with the set."""
    names = dict.fromkeys(name for e in evaluations.values() for name in e["out_of_domain"])
    in_domain = _side_by_side({r: e["in_domain"] for r, e in evaluations.items()})
    out_of_domain = {
        name: _side_by_side(
            {
                r: e["out_of_domain"][name]
                for r, e in evaluations.items()
                if name in e["out_of_domain"]
            }
        )
        for name in names
    }
    html, markdown = _reports({"in_domain": in_domain, **out_of_domain}, title)
    return RecipeComparison(
        results={**in_domain, "out_of_domain": out_of_domain}, html=html, markdown=markdown
    )


def _side_by_side(by_recipe: Mapping[str, Mapping]) -> dict:
    """One results dict: the first recipe's base, then each recipe's fine-tuned model."""
    first = next(iter(by_recipe.values()))
    models = {"base": first["models"]["base"]}
    models |= {recipe: measured["models"]["fine-tuned"] for recipe, measured in by_recipe.items()}
    return {**first, "models": models}


def _reports(
    results: Mapping[str, Mapping],
    title: str,
    extras: Mapping[str, Mapping] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[str, str]:
    """One HTML page with a section per evaluation set, and a markdown table per set."""
    pages = [
        render_report(
            measured,
            **(extras or {}).get(name, {}),
            title=f"{title}: {measured['dataset']}",
            cache_dir=cache_dir,
        )
        for name, measured in results.items()
    ]
    markdown = "\n".join(
        f"**{measured['dataset']}**\n\n{key_numbers_markdown(measured)}"
        for measured in results.values()
    )
    return _merge_pages(pages), markdown


def _headline(measured: Mapping) -> dict[str, float]:
    top1 = {
        model: measured["models"][model]["zero_shot"]["top1"] for model in ("base", "fine-tuned")
    }
    return {
        "top1_base": top1["base"],
        "top1_fine_tuned": top1["fine-tuned"],
        "top1_gain": top1["fine-tuned"] - top1["base"],
    }


def _eval_set(
    lake: Lake,
    name: str,
    split: str,
    mapping: dict | None,
    cache_dir: str | os.PathLike | None,
) -> EvalSet:
    if name.startswith(LAKE_PREFIX):
        return from_lake(lake, name.removeprefix(LAKE_PREFIX), split, mapping)
    return from_folder(name, None, mapping, cache_dir=cache_dir)


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
