"""``comparison_report``: the three recipes side by side with their common base model."""

import hashlib
import json

import dagster as dg

from assets.evaluation.evaluations import RECIPES
from assets.partitions import DATASETS
from resources import LakeResource


@dg.asset(
    partitions_def=DATASETS,
    group_name="evaluation",
    kinds={"json", "html"},
    code_version="1",
    deps=[f"{recipe}_evaluation" for recipe in RECIPES],
    description="Base model, CosmoCLIP, GalaxAlign and GRAIN on the same held-out split: one "
    "table and one HTML report.",
)
def comparison_report(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    """Gather the recipes' in-domain results into one comparison."""
    from cosmoalign.report import key_numbers_markdown, render_report

    dataset = context.partition_key
    store = lake.open()
    combined: dict = {}
    for recipe in RECIPES:
        path = f"{store.root}/reports/{recipe}_evaluation/{dataset}/results.json"
        with store.fs.open(path, "rb") as handle:
            in_domain = json.load(handle)["in_domain"]
        if not combined:
            combined = {**in_domain, "models": {"base": in_domain["models"]["base"]}}
        combined["models"][recipe] = in_domain["models"]["fine-tuned"]
    blob = json.dumps(combined, indent=2, allow_nan=False)
    folder = f"reports/comparison_report/{dataset}"
    store.write_bytes(f"{folder}/results.json", blob.encode())
    html = render_report(combined, title=f"Recipes compared on {dataset}")
    report = store.write_bytes(f"{folder}/report.html", html.encode())
    return dg.MaterializeResult(
        metadata={
            "key_numbers": dg.MetadataValue.md(key_numbers_markdown(combined)),
            "report": dg.MetadataValue.path(report),
        },
        data_version=dg.DataVersion(hashlib.sha256(blob.encode()).hexdigest()[:16]),
    )
