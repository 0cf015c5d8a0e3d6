"""``python -m cosmoalign.captions``: caption one partition of the lake out of the Dagster process.

The captions asset launches this on GPU boxes (through the same launcher as training); progress
and the result go back to the run through dagster-pipes when it is present.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict


def main(argv: list[str] | None = None) -> None:
    """Caption the stale rows of one partition and report what was written."""
    parser = argparse.ArgumentParser(prog="python -m cosmoalign.captions", description=__doc__)
    parser.add_argument("--lake", required=True, help="lake root (path or fsspec URL)")
    parser.add_argument("--partition", required=True)
    parser.add_argument("--captioner", default="morphology", help="morphology, blip or mllm")
    parser.add_argument("--model", default="", help="model id or local path (blip/mllm)")
    parser.add_argument("--prompt", default="", help="BLIP prefix or MLLM prompt version")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from cosmoalign.captions.caption_table import caption_partition
    from cosmoalign.captions.factory import build_captioner
    from cosmoalign.lake import Lake
    from cosmoalign.pipes_reporter import open_reporter

    captioner = build_captioner(args.captioner, args.model, args.prompt, args.batch_size, args.seed)
    with open_reporter(is_main_process=True) as reporter:
        result = caption_partition(
            Lake(args.lake),
            args.partition,
            captioner,
            args.batch_size,
            lambda tick: reporter.info(tick.describe("captioned")),
        )
        info = captioner.info
        metadata = {
            **asdict(result.summary),
            "captioned": result.captioned,
            "reused": result.reused,
            "captioner": f"{info.name} {info.version} ({info.prompt_hash})",
        }
        reporter.result(metadata, data_version=result.summary.content_hash)


if __name__ == "__main__":
    main()
