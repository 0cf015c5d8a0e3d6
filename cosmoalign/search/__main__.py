"""``python -m cosmoalign.search (--text TEXT | --image FILE|ID) [--k 20] [--data FOLDER]``:
find the galaxies most like an image, or best described by words, in a lake partition's indexed
embeddings or in any folder of JPEG/PNG/FITS images; prints a table (``--json``: JSON) and
writes a self-contained HTML gallery with ``--html``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cosmoalign.files import atomic_write
from cosmoalign.lake import default_lake_root
from cosmoalign.search.models import DEFAULT_MODEL, DEFAULT_PARTITION

PROG = "python -m cosmoalign.search"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", help='a description, e.g. "edge-on disk galaxy with a dust lane"')
    query.add_argument(
        "--image", help="an image file, or an object_id of the lake (a path in --data)"
    )
    parser.add_argument("--k", type=int, default=20, help="how many hits (default 20)")
    parser.add_argument("--data", type=Path, help="search this folder instead of the lake")
    parser.add_argument("--lake", default=None, help="lake root (default $COSMOALIGN_HOME)")
    parser.add_argument("--partition", default=DEFAULT_PARTITION, help="lake partition")
    parser.add_argument(
        "--model",
        help="export folder, model asset (cosmoclip, galaxalign, grain) or spec such as "
        "offline-default; default: the model the lake's embeddings were made with, or "
        f"{DEFAULT_MODEL} for --data",
    )
    parser.add_argument("--json", action="store_true", help="print the hits as JSON")
    parser.add_argument("--html", type=Path, help="write an HTML gallery here")
    parser.add_argument(
        "--no-framing",
        dest="framing",
        action="store_false",
        help="keep each image's whole field instead of its galaxy-centred frame",
    )
    parser.add_argument("--cache-dir", type=Path, help="default $COSMOALIGN_CACHE")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", help="torch device (default: cuda if available)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 with a one-line error on bad input)."""
    args = build_parser().parse_args(argv)
    from cosmoalign.search.gallery import format_table, hits_json, render_gallery

    try:
        if args.k < 1:
            raise ValueError(f"--k must be at least 1, got {args.k}")
        lake_root = args.lake or default_lake_root()
        search = _search_folder if args.data else _search_lake
        model_name, hits, query_image = search(args, lake_root)
    except (ValueError, OSError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) else exc
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    query = {"text": args.text} if args.text is not None else {"image": args.image}
    print(hits_json(query, model_name, hits) if args.json else format_table(hits))
    if args.html:
        where = args.data or f"{lake_root} ({args.partition})"
        title = f"{args.text or args.image} in {where}"
        page = render_gallery(title, args.text or args.image, hits, query_image)
        atomic_write(args.html, page)
        print(f"gallery: {args.html}", file=sys.stderr)
    return 0


def _search_folder(args: argparse.Namespace, lake_root: str):
    from cosmoalign.models import build_model
    from cosmoalign.search.folder import embed_folder, render_file
    from cosmoalign.search.gallery import thumbnail
    from cosmoalign.search.models import resolve_model
    from cosmoalign.search.run import image_vector, search_folder, text_vector

    if not args.data.is_dir():
        raise ValueError(f"--data {args.data}: not a folder")
    bundle = build_model(resolve_model(args.model or DEFAULT_MODEL, lake_root, args.partition))
    folder = embed_folder(args.data, bundle, args.framing, args.cache_dir, args.batch_size)
    for path, reason in folder.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(
        f"{len(folder.paths)} images, {folder.embedded} embedded now, "
        f"{len(folder.paths) - folder.embedded} from the cache",
        file=sys.stderr,
    )
    query_image = None
    if args.text is not None:
        query = text_vector(bundle, args.text)
    elif Path(args.image).is_file():
        png = render_file(args.image, args.framing)
        query, query_image = image_vector(bundle, png), thumbnail(png)
    else:
        row = folder.index_of(args.image)
        query = folder.vectors[row]
        query_image = thumbnail(render_file(args.data / args.image, args.framing))
    return bundle.name, search_folder(folder, query, args.k, args.framing), query_image


def _search_lake(args: argparse.Namespace, lake_root: str):
    from cosmoalign.lake import Lake
    from cosmoalign.models import build_model
    from cosmoalign.models.spec import ModelSpec
    from cosmoalign.search.folder import render_file
    from cosmoalign.search.gallery import thumbnail
    from cosmoalign.search.index import EmbeddingIndex
    from cosmoalign.search.models import resolve_model
    from cosmoalign.search.run import check_model_matches, image_vector, search_index, text_vector

    if not args.framing:
        raise ValueError("--no-framing applies to --data folders: the lake's images are framed")
    index = EmbeddingIndex.open(Lake(lake_root), args.partition)
    recorded = index.metadata.get("model", "")
    if args.image is not None and not Path(args.image).is_file() and args.model is None:
        hits = search_index(index, index.vector_of(args.image), args.k)
        return recorded, hits, hits[0].image if hits and hits[0].id == args.image else None
    spec = resolve_model(args.model, lake_root, args.partition) if args.model else None
    bundle = build_model(spec or ModelSpec(recorded))
    check_model_matches(index, bundle)
    query_image = None
    if args.text is not None:
        query = text_vector(bundle, args.text)
    elif Path(args.image).is_file():
        png = render_file(args.image)
        query, query_image = image_vector(bundle, png), thumbnail(png)
    else:
        query = index.vector_of(args.image)
    return bundle.name, search_index(index, query, args.k), query_image


if __name__ == "__main__":
    sys.exit(main())
