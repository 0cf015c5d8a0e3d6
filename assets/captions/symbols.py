"""``symbols``: a schematic symbol per class of the dataset's label set (GalaxAlign)."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from assets.metadata import sample_grid, write_summary_metadata
from assets.partitions import DATASETS
from cosmoalign.imaging import encode_png
from cosmoalign.ingest import CURATED_TABLE
from resources import LakeResource

SYMBOLS_TABLE = "symbols"
SYMBOL_SCHEMA = pa.schema(
    [
        pa.field("label", pa.int32(), nullable=False),
        pa.field("label_name", pa.string(), nullable=False),
        pa.field("symbol_key", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("image_png", pa.large_binary(), nullable=False),
        pa.field("provenance", pa.string(), nullable=False),
    ]
)


@dg.asset(
    partitions_def=DATASETS,
    group_name="captions",
    kinds={"parquet"},
    code_version="1",
    deps=["curated_images"],
    description="GalaxAlign's third modality: one schematic symbol image and text per class.",
)
def symbols(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Draw the symbols of the classes present in one dataset."""
    from cosmoalign.symbols import render_symbol, symbol_key, symbol_text

    dataset = context.partition_key
    store = lake.open()
    labels = store.read(CURATED_TABLE, dataset, columns=["label", "label_name"])
    labels = labels.filter(pc.greater_equal(labels.column("label"), 0))
    classes = sorted({(row["label"], row["label_name"]) for row in labels.to_pylist()})
    rows, missing = [], []
    for label, name in classes:
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
                "provenance": "original",
            }
        )
    if missing:
        context.log.warning(f"no schematic symbol for classes {missing}; they are left out")
    table = pa.Table.from_pylist(rows, schema=SYMBOL_SCHEMA)
    summary = store.write_table(SYMBOLS_TABLE, dataset, table)
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "classes_without_symbol": dg.MetadataValue.json(missing),
            **sample_grid(store, table.to_batches(), f"symbols/{dataset}", per_class=1),
        },
        data_version=dg.DataVersion(summary.content_hash),
    )
