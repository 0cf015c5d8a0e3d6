"""``accelerate launch -m tests.train.epoch_probe --config run.json``: a training run whose
dataset appends ``epoch index`` per fetched sample to ``$EPOCH_PROBE_DIR/<process>.txt``."""

import os

from cosmoalign.train.__main__ import main
from cosmoalign.train.data import PairsDataset

_sample = PairsDataset.sample


def _logged_sample(self: PairsDataset, row: dict, index: int) -> dict:
    path = os.path.join(os.environ["EPOCH_PROBE_DIR"], f"{os.environ.get('RANK', '0')}.txt")
    with open(path, "a") as log:
        log.write(f"{self.epoch} {index}\n")
    return _sample(self, row, index)


if __name__ == "__main__":
    PairsDataset.sample = _logged_sample
    main()
