"""``comparison_report``: the three recipes side by side with their common base model, in domain
and on each out-of-domain set (the real benchmark among them)."""

import hashlib

import dagster as dg

from assets.evaluation.evaluations import RECIPES
from assets.partitions import DATASETS
from resources import LakeResource


@dg.asset(
    partitions_def=DATASETS,
    group_name="evaluation",
    kinds={"json", "html"},
    code_version="2",
    deps=[f"{recipe}_evaluation" for recipe in RECIPES],
    description="Base model, CosmoCLIP, GalaxAlign and GRAIN on the same held-out split and on "
    "the out-of-domain sets they were evaluated on (real SDSS galaxies among them): one HTML "
    "report with a table per set.",
)
def comparison_report(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    """Gather the recipes' results into one comparison, a table per evaluation set."""
    from cosmoalign.evaluate.evaluation_report import compare_recipes
    from cosmoalign.report.stored import read_results, write_report

    dataset = context.partition_key
    store = lake.open()
    evaluations = {
        recipe: read_results(store, f"{recipe}_evaluation", dataset) for recipe in RECIPES
    }
    comparison = compare_recipes(evaluations, title="Recipes compared")
    stored = write_report(store, "comparison_report", dataset, comparison.results, comparison.html)
    return dg.MaterializeResult(
        metadata={
            "key_numbers": dg.MetadataValue.md(comparison.markdown),
            "report": dg.MetadataValue.path(stored.html_path),
        },
        data_version=dg.DataVersion(hashlib.sha256(stored.results_json.encode()).hexdigest()[:16]),
    )
