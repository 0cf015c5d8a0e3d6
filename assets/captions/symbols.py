"""``symbols``: a schematic symbol per class of the dataset's label set (GalaxAlign)."""

import dagster as dg
import pyarrow.compute as pc

from assets.metadata import sample_grid, write_summary_metadata
from assets.partitions import DATASETS, and_their_shards
from cosmoalign.schema import CURATED_TABLE, SYMBOLS_TABLE
from cosmoalign.shards import read_dataset
from cosmoalign.symbol_table import symbols_table
from resources import LakeResource


@dg.asset(
    partitions_def=DATASETS,
    group_name="captions",
    kinds={"lance"},
    code_version="1",
    deps=and_their_shards("curated_images"),
    description="GalaxAlign's third modality: one schematic symbol image and text per class.",
)
def symbols(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Draw the symbols of the classes present in one dataset."""
    dataset = context.partition_key
    store = lake.open()
    labels = read_dataset(store, CURATED_TABLE, dataset, columns=["label", "label_name"])
    labels = labels.filter(pc.greater_equal(labels.column("label"), 0))
    table, missing = symbols_table((row["label"], row["label_name"]) for row in labels.to_pylist())
    if missing:
        context.log.warning(f"no schematic symbol for classes {missing}; they are left out")
    summary = store.write_table(SYMBOLS_TABLE, dataset, table)
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "classes_without_symbol": dg.MetadataValue.json(missing),
            **sample_grid(store, table.to_batches(), f"symbols/{dataset}", per_class=1),
        },
        data_version=dg.DataVersion(summary.content_hash),
    )
