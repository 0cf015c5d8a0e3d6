"""The real labelled benchmark every recipe evaluation scores out of domain, when it is present.

Two forms:

- the shared data folder (``gz-kaggle-spirals/`` and ``sdss-unlabelled/`` inside): the four-class
  set of :data:`FOUR_CLASS_CSV`, real SDSS cutouts as elliptical, spiral, edge-on disk or merging
  (spirals and ellipticals from the Galaxy Zoo votes of gz-kaggle-spirals validation; edge-on
  disks and mergers picked by eye from a random draw of sdss-unlabelled files that the shipped
  sample does not contain, confident cases only);
- any folder of class sub-folders, e.g. gz-kaggle-spirals ``validation`` (``spirals`` and
  ``non_spirals``, prompted as spiral / smooth elliptical).

It is found at ``$COSMOALIGN_REAL_EVAL``, else at ``<repo>/../shared/data`` (present in the
development and CI environment only); an empty variable turns it off.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from cosmoalign.evaluate.data import EvalSet, class_prompts, from_folder

REAL_EVAL_ENV = "COSMOALIGN_REAL_EVAL"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REAL_EVAL = REPO_ROOT.parent / "shared" / "data"
FOUR_CLASS_CSV = "real_four_class.csv"
"""Packaged labels (``path,label,source``; paths relative to the shared data folder)."""
REAL_SET_NAME = "real: SDSS galaxies"
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
    kind = "four classes" if has_four_class_files(folder) else "class sub-folders"
    log(f"real benchmark: scoring {REAL_SET_NAME} ({kind}) from {folder}")
    return folder


def real_set(folder: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> EvalSet:
    """The real benchmark's images, named :data:`REAL_SET_NAME`: the four-class set when
    ``folder`` holds its files, else the class sub-folders of ``folder`` (prompted with
    :data:`GZ_SPIRALS_PROMPTS` for the classes it has). With ``cache_dir`` the framed images are
    rendered once (see :func:`~cosmoalign.evaluate.data.render_images`)."""
    folder = Path(folder)
    if has_four_class_files(folder):
        with resources.as_file(resources.files("cosmoalign.data") / FOUR_CLASS_CSV) as labels:
            evalset = from_folder(folder, labels_csv=labels, cache_dir=cache_dir)
        return dataclasses.replace(evalset, name=REAL_SET_NAME)
    evalset = from_folder(folder, cache_dir=cache_dir)
    mapping = {k: v for k, v in GZ_SPIRALS_PROMPTS.items() if k in evalset.class_names}
    return dataclasses.replace(
        evalset, name=REAL_SET_NAME, prompts=class_prompts(evalset.class_names, mapping)
    )


def four_class_rows() -> list[dict[str, str]]:
    """The packaged four-class labels: ``path`` (relative to the shared data folder), ``label``
    and ``source`` (Galaxy Zoo votes or by eye)."""
    text = (resources.files("cosmoalign.data") / FOUR_CLASS_CSV).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def has_four_class_files(folder: Path) -> bool:
    """Whether every image of the four-class set is in ``folder``."""
    return all((folder / row["path"]).is_file() for row in four_class_rows())
