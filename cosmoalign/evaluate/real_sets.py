"""The real labelled benchmark every recipe evaluation scores out of domain, when it is present:
Galaxy Zoo (Kaggle) spirals validation, real SDSS JPEGs in ``spirals``/``non_spirals`` folders.

It is found at ``$COSMOALIGN_REAL_EVAL``, else at ``<repo>/../shared/data/gz-kaggle-spirals/
validation`` (present in the development and CI environment only); an empty variable turns it off.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path

from cosmoalign.evaluate.data import EvalSet, class_prompts, from_folder

REAL_EVAL_ENV = "COSMOALIGN_REAL_EVAL"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REAL_EVAL = REPO_ROOT.parent / "shared" / "data" / "gz-kaggle-spirals" / "validation"
REAL_SET_NAME = "real: gz-kaggle-spirals validation (SDSS)"
"""The real set's name: its key in the results and its heading in reports."""
GZ_SPIRALS_PROMPTS = {"spirals": "spiral", "non_spirals": "smooth elliptical"}
"""Class folder -> prompt text, as docs/prompts/gz_spirals.json (docs/ is not installed)."""

logger = logging.getLogger(__name__)


def real_eval_folder(log: Callable[[str], object] = logger.info) -> Path | None:
    """The real benchmark's folder, or None when ``COSMOALIGN_REAL_EVAL`` is empty or the folder
    does not exist; ``log`` gets one line saying which."""
    configured = os.environ.get(REAL_EVAL_ENV)
    if configured == "":
        log(f"real benchmark skipped: {REAL_EVAL_ENV} is empty")
        return None
    folder = Path(configured) if configured is not None else DEFAULT_REAL_EVAL
    if not folder.is_dir():
        log(f"real benchmark skipped: {folder} not found (set {REAL_EVAL_ENV} to its folder)")
        return None
    log(f"real benchmark: scoring {REAL_SET_NAME} from {folder}")
    return folder


def real_set(folder: str | os.PathLike) -> EvalSet:
    """The real benchmark's images, labelled by class folder, prompted with
    :data:`GZ_SPIRALS_PROMPTS` (for the classes the folder has) and named :data:`REAL_SET_NAME`."""
    evalset = from_folder(folder)
    mapping = {k: v for k, v in GZ_SPIRALS_PROMPTS.items() if k in evalset.class_names}
    return dataclasses.replace(
        evalset, name=REAL_SET_NAME, prompts=class_prompts(evalset.class_names, mapping)
    )
