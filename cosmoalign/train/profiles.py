"""Named default sets for training: ``demo`` (the offline default on a 2-core CPU: the defaults
of :class:`cosmoalign.train.TrainConfig` as they are) and ``smoke`` (a tiny random model,
seconds; for tests: four steps, samples made in the training process, no loader worker to
start). A profile names only what it changes. ``COSMOALIGN_PROFILE`` picks one."""

from __future__ import annotations

import os

PROFILES: dict[str, dict] = {
    "demo": {},
    "smoke": {
        "arch": "tiny",
        "epochs": 1,
        "batch_size": 16,
        "lr": 1e-3,
        "max_steps": 4,
        "loader_workers": 0,
    },
}


def active_profile() -> dict:
    """The profile named by ``$COSMOALIGN_PROFILE`` (default ``demo``)."""
    name = os.environ.get("COSMOALIGN_PROFILE", "demo")
    if name not in PROFILES:
        raise ValueError(f"COSMOALIGN_PROFILE={name!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[name]
