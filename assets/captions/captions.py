"""``captions``: a description per image from the configured captioner, joined with label text."""

import base64
import statistics

import dagster as dg

from assets.metadata import write_summary_metadata
from assets.partitions import lake_partition_of, per_dataset_and_shard
from cosmoalign.captions.caption_table import caption_partition
from cosmoalign.captions.factory import build_captioner
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.preview import thumbnail_png
from cosmoalign.progress import Tick
from cosmoalign.schema import BALANCED_TABLE, CAPTIONS_TABLE
from resources import AccelerateLauncher, LakeResource

LAUNCH_MODES = ("auto", "in_process", "subprocess")


class CaptionParams(dg.Config):
    """Which captioner writes the descriptions."""

    captioner: str = "morphology"
    """``morphology`` (offline default), ``blip`` or ``mllm``."""
    model: str = ""
    """A Hugging Face model id or local path for ``blip``/``mllm``."""
    prompt: str = ""
    """BLIP's conditional prefix or the MLLM prompt version; empty keeps the backend default."""
    batch_size: int = 32
    seed: int = 0
    max_duplicate_rate: float = 0.2
    launch: str = "auto"
    """``auto`` runs BLIP/MLLM out of the Dagster process when a GPU is visible (through the
    launcher, like training); ``in_process`` or ``subprocess`` force one way."""


def _captions(
    context: dg.AssetExecutionContext,
    config: CaptionParams,
    lake: LakeResource,
    launcher: AccelerateLauncher,
) -> dg.MaterializeResult:
    """Caption one dataset (or shard), reusing every row whose captioner is still current."""
    partition = lake_partition_of(context)
    store = lake.open()
    if _out_of_process(config):
        summary, counts = _caption_in_subprocess(context, config, lake, launcher)
    else:
        summary, counts = _caption_here(context, config, store)
    table = store.read(CAPTIONS_TABLE, partition, columns=["object_id", "caption", "description"])
    texts = table.column("caption").to_pylist()
    empty = sum(not description.strip() for description in table.column("description").to_pylist())
    duplicate_rate = 1 - len(set(texts)) / len(texts) if texts else 0.0
    words = [len(text.split()) for text in texts] or [0]
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "captioned": dg.MetadataValue.int(counts["captioned"]),
            "reused": dg.MetadataValue.int(counts["reused"]),
            "captioner": dg.MetadataValue.text(counts["captioner"]),
            "caption_words": dg.MetadataValue.json(
                {"min": min(words), "median": statistics.median(words), "max": max(words)}
            ),
            "samples": _sample_table(
                store,
                partition,
                dict(zip(table.column("object_id").to_pylist(), texts, strict=True)),
            ),
        },
        data_version=dg.DataVersion(summary.content_hash),
        check_results=[
            dg.AssetCheckResult(
                check_name="no_empty_caption", passed=empty == 0, metadata={"empty": empty}
            ),
            dg.AssetCheckResult(
                check_name="duplicate_caption_rate",
                passed=duplicate_rate <= config.max_duplicate_rate,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rate": duplicate_rate, "limit": config.max_duplicate_rate},
            ),
        ],
    )


def _out_of_process(config: CaptionParams) -> bool:
    if config.launch not in LAUNCH_MODES:
        raise ValueError(f"launch must be one of {LAUNCH_MODES}, got {config.launch!r}")
    if config.launch != "auto":
        return config.launch == "subprocess"
    if config.captioner == "morphology":
        return False
    import torch

    return torch.cuda.is_available()


def _caption_here(
    context: dg.AssetExecutionContext, config: CaptionParams, store: Lake
) -> tuple[WriteSummary, dict]:
    captioner = build_captioner(
        config.captioner, config.model, config.prompt, config.batch_size, config.seed
    )

    def progress(tick: Tick) -> None:
        context.log.info(tick.describe("captioned"))

    result = caption_partition(
        store, lake_partition_of(context), captioner, config.batch_size, progress
    )
    info = captioner.info
    counts = {
        "captioned": result.captioned,
        "reused": result.reused,
        "captioner": f"{info.name} {info.version} ({info.prompt_hash})",
    }
    return result.summary, counts


def _caption_in_subprocess(
    context: dg.AssetExecutionContext,
    config: CaptionParams,
    lake: LakeResource,
    launcher: AccelerateLauncher,
) -> tuple[WriteSummary, dict]:
    """Run ``python -m cosmoalign.captions`` through the launcher; progress arrives over pipes."""
    args = [
        *("--lake", lake.url, "--partition", lake_partition_of(context)),
        *("--captioner", config.captioner, "--model", config.model, "--prompt", config.prompt),
        *("--batch-size", str(config.batch_size), "--seed", str(config.seed)),
    ]
    result = launcher.run(
        context, "cosmoalign.captions", args, num_processes=1, env=lake.subprocess_env()
    )
    values = {key: value.value for key, value in result.metadata.items()}
    summary = WriteSummary(
        values["path"], values["rows"], values["parts"], values["content_hash"], values["version"]
    )
    return summary, values


def _sample_table(
    store: Lake, partition: str, caption_by_id: dict[str, str], n: int = 8
) -> dg.MetadataValue:
    """A markdown table of sample thumbnails with their captions."""
    lines = ["| image | object | caption |", "|---|---|---|"]
    batch = next(store.iter_batches(BALANCED_TABLE, partition, ["object_id", "image_png"], 64))
    for row in batch.to_pylist()[:n]:
        thumb = base64.b64encode(thumbnail_png(row["image_png"], 64)).decode()
        caption = caption_by_id.get(row["object_id"], "").replace("|", "/")
        lines.append(f"| ![](data:image/png;base64,{thumb}) | {row['object_id']} | {caption} |")
    return dg.MetadataValue.md("\n".join(lines))


captions, captions_of_shard = per_dataset_and_shard(
    "captions",
    group_name="captions",
    kinds={"lance"},
    code_version="1",
    stage_deps=["curated_images", "measurements"],
    dataset_deps=["balanced_images"],
    checks=["no_empty_caption", "duplicate_caption_rate"],
    description="One caption per training and held-out image: label text plus a generated "
    "description, stamped with captioner name, version and prompt hash. The morphology "
    "captioner phrases the stored measurements (no pixels); BLIP/MLLM caption only missing or "
    "stale rows again.",
)(_captions)
