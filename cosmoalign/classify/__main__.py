"""``python -m cosmoalign.classify FOLDER --labels "elliptical,spiral,edge-on disk,merging"``:
zero-shot labels for every JPEG/PNG/FITS image of a folder, with the probability of each label,
as CSV or Parquet (by ``--out``'s suffix) or a table on stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cosmoalign.classify.label_choices import DEFAULT_LABELS, parse_labels
from cosmoalign.lake import default_lake_root
from cosmoalign.search.models import DEFAULT_MODEL, DEFAULT_PARTITION

PROG = "python -m cosmoalign.classify"
SUFFIXES = (".csv", ".parquet")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 with a one-line error on bad input)."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("folder", type=Path, help="folder of images (searched recursively)")
    parser.add_argument(
        "--labels", default=",".join(DEFAULT_LABELS), help="comma-separated label texts"
    )
    parser.add_argument(
        "--templates",
        nargs="+",
        help="prompt templates with {} for the label (or one file, a template per line); "
        "default: the evaluation's templates",
    )
    parser.add_argument("--out", type=Path, help="write .csv or .parquet here")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="export folder, model asset (cosmoclip, galaxalign, grain) or spec such as "
        f"offline-default (default {DEFAULT_MODEL} of --partition in --lake)",
    )
    parser.add_argument("--lake", default=None, help="lake root (default $COSMOALIGN_HOME)")
    parser.add_argument("--partition", default=DEFAULT_PARTITION)
    parser.add_argument(
        "--no-framing",
        dest="framing",
        action="store_false",
        help="keep each image's whole field instead of its galaxy-centred frame",
    )
    parser.add_argument("--cache-dir", type=Path, help="default $COSMOALIGN_CACHE")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", help="torch device (default: cuda if available)")
    args = parser.parse_args(argv)
    from cosmoalign.classify.zero_shot import (
        label_probabilities,
        labels_table,
        parse_templates,
    )
    from cosmoalign.models import build_model
    from cosmoalign.search.folder import embed_folder
    from cosmoalign.search.models import resolve_model

    try:
        labels = parse_labels(args.labels)
        templates = parse_templates(args.templates)
        if args.out is not None and args.out.suffix.lower() not in SUFFIXES:
            raise ValueError(f"--out {args.out}: the suffix must be one of {SUFFIXES}")
        if not args.folder.is_dir():
            raise ValueError(f"{args.folder}: not a folder")
        spec = resolve_model(args.model, args.lake or default_lake_root(), args.partition)
        bundle = build_model(spec)
        folder = embed_folder(
            args.folder, bundle, args.framing, args.cache_dir, args.batch_size, args.device
        )
        if not folder.paths:
            raise ValueError(f"{args.folder}: no readable images")
    except (ValueError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    for path, reason in folder.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    probabilities = label_probabilities(bundle, folder.vectors, labels, templates)
    table = labels_table(folder.paths, probabilities, labels, "path")
    if args.out is None:
        print(table.to_pandas().to_string(index=False, float_format="{:.3f}".format))
        return 0
    _write_table(table, args.out)
    counts = table.group_by("label").aggregate([("label", "count")]).to_pylist()
    summary = ", ".join(f"{row['label']} {row['label_count']}" for row in counts)
    print(f"{table.num_rows} images labelled ({summary}): {args.out}", file=sys.stderr)
    return 0


def _write_table(table, out: Path) -> None:
    """CSV or Parquet by suffix, written beside ``out`` and renamed into place."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    if out.suffix.lower() == ".csv":
        pacsv.write_csv(table, temporary)
    else:
        pq.write_table(table, temporary)
    temporary.replace(out)


if __name__ == "__main__":
    sys.exit(main())
