"""``accelerate launch -m cosmoalign.train --config run.json``: one fine-tuning run."""

from __future__ import annotations

import argparse
import logging

from cosmoalign.train.config import TrainConfig
from cosmoalign.train.loader_server import start_loader_server


def main(argv: list[str] | None = None) -> None:
    """Parse the config path, train, and report the result on the main process."""
    parser = argparse.ArgumentParser(prog="python -m cosmoalign.train", description=__doc__)
    parser.add_argument("--config", required=True, help="a TrainConfig JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = TrainConfig.from_json(args.config)
    if config.loader_workers:
        start_loader_server()  # imports beside this process's own, below

    from accelerate import PartialState

    from cosmoalign.pipes_reporter import open_reporter
    from cosmoalign.train.loop import train, use_cpu

    state = PartialState(cpu=use_cpu())
    with open_reporter(state.is_main_process) as reporter:
        result = train(config, reporter)
        if state.is_main_process:
            reporter.result(result.metadata(), data_version=result.weights_sha256[:16])


if __name__ == "__main__":
    main()
