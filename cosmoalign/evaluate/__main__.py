"""``python -m cosmoalign.evaluate --model SPEC [--model SPEC ...] --data DATA``: compare CLIP
models on a lake split or a local folder; prints a table, optionally writes JSON and HTML."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cosmoalign.evaluate.data import (
    LAKE_PREFIX,
    EvalSet,
    from_folder,
    from_lake,
    load_prompt_mapping,
)
from cosmoalign.models.export import CONFIG_FILE
from cosmoalign.models.spec import LOCAL_DIR_PREFIX, OFFLINE_DEFAULT, TINY, ModelSpec

PROG = "python -m cosmoalign.evaluate"
COLUMNS = (
    ("top1", ("zero_shot", "top1")),
    ("top5", ("zero_shot", "top5")),
    ("bal acc", ("zero_shot", "balanced_accuracy")),
    ("I->T R@1", ("retrieval", "image_to_text", "r1")),
    ("T->I R@1", ("retrieval", "text_to_image", "r1")),
    ("mAP@k", ("similarity", "map_at_k")),
    ("probe acc", ("linear_probe", "accuracy_mean")),
)


def parse_model(text: str) -> ModelSpec:
    """``offline-default``, ``tiny``, ``local-dir:/path``, an export folder, ``ARCH`` or
    ``ARCH:TAG`` (an open_clip architecture and pretrained tag, e.g. ``ViT-B-32:openai``)."""
    if text in (OFFLINE_DEFAULT, TINY):
        return ModelSpec(text)
    folder = Path(text.removeprefix(LOCAL_DIR_PREFIX))
    if text.startswith(LOCAL_DIR_PREFIX) or folder.is_dir():
        if not (folder / CONFIG_FILE).is_file():
            raise ValueError(f"model {text!r}: {folder} has no {CONFIG_FILE} (not an export)")
        return ModelSpec(LOCAL_DIR_PREFIX + str(folder.resolve()))
    import open_clip

    arch, _, tag = text.partition(":")
    if arch not in open_clip.list_models():
        raise ValueError(
            f"model {text!r}: not {OFFLINE_DEFAULT}, {TINY}, {LOCAL_DIR_PREFIX}PATH, an export "
            "folder or an open_clip ARCH[:TAG]"
        )
    return ModelSpec(arch, pretrained=tag or None)


def load_data(
    text: str,
    labels: str | None,
    prompts: str | None,
    split: str,
    framing: bool = True,
    cache_dir: Path | None = None,
) -> EvalSet:
    """``lake:<root>:<partition>`` (the root may itself contain ':'; rows cropped to their
    recorded frames) or a folder path (framed as curation frames, unless ``framing`` is off;
    rendered once per ``cache_dir``)."""
    mapping = load_prompt_mapping(prompts) if prompts else None
    if text.startswith(LAKE_PREFIX):
        root, _, partition = text.removeprefix(LAKE_PREFIX).rpartition(":")
        if not root or not partition:
            raise ValueError(f"data {text!r}: expected {LAKE_PREFIX}<root>:<partition>")
        if labels or not framing:
            raise ValueError("--labels and --no-framing apply to folder data, not to a lake")
        return from_lake(root, partition, split, mapping)
    return from_folder(text, labels, mapping, framing, cache_dir)


def format_table(results: dict) -> str:
    """One fixed-width row per model, three decimals; ``-`` where a metric was not measured."""
    cutoffs = {m["similarity"]["k"] for m in results["models"].values() if m["similarity"]}
    k = str(cutoffs.pop()) if len(cutoffs) == 1 else "k"
    headings = [heading.replace("@k", f"@{k}") for heading, _ in COLUMNS]
    width = max(len("model"), *(len(name) for name in results["models"]))
    lines = [f"{'model':<{width}}" + "".join(f" {h:>9}" for h in headings)]
    for name, metrics in results["models"].items():
        cells = [_cell(metrics, path) for _, path in COLUMNS]
        lines.append(f"{name:<{width}}" + "".join(f" {c:>9}" for c in cells))
    return "\n".join(lines)


def _cell(metrics: dict, path: tuple[str, ...]) -> str:
    value = metrics
    for key in path:
        if value is None:
            return "-"
        value = value[key]
    return f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 with a one-line error on bad input)."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("--model", action="append", required=True, help="a model spec; repeat")
    parser.add_argument("--data", required=True, help="lake:<root>:<partition> or a folder")
    parser.add_argument("--labels", help="CSV with columns path,label (folder data)")
    parser.add_argument("--prompts", help="JSON or CSV (name,prompt) of class prompt texts")
    parser.add_argument("--split", default="test", help="lake split to evaluate (default test)")
    parser.add_argument(
        "--no-framing",
        dest="framing",
        action="store_false",
        help="folder data: keep each image's whole field instead of its galaxy-centred frame",
    )
    parser.add_argument("--report", type=Path, help="write an HTML report here")
    parser.add_argument("--json", type=Path, help="write the results dict here")
    parser.add_argument("--cache-dir", type=Path, default=Path(".cosmoalign/embeddings"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", help="torch device (default: cuda if available)")
    parser.add_argument("--seed", type=int, default=0, help="seed of randomly initialised weights")
    args = parser.parse_args(argv)
    from cosmoalign.evaluate.run import compare
    from cosmoalign.models.factory import build_model

    try:
        if len(set(args.model)) != len(args.model):
            raise ValueError("each --model may be given only once")
        specs = {text: parse_model(text) for text in args.model}
        evalset = load_data(
            args.data, args.labels, args.prompts, args.split, args.framing, args.cache_dir
        )
        models = {name: build_model(spec, seed=args.seed) for name, spec in specs.items()}
    except (ValueError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    results, extras = compare(
        models, evalset, batch_size=args.batch_size, device=args.device, cache_dir=args.cache_dir
    )
    print(format_table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    if args.report:
        from cosmoalign.report.page import render_report, write_report

        title = f"{evalset.name}: {' vs '.join(models)}"
        html_text = render_report(results, **extras, title=title, cache_dir=args.cache_dir)
        write_report(args.report, html_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
