"""The compact real sample shipped in the package: SDSS DR7 gri cutouts of Galaxy Zoo galaxies.

2,000 cutouts from a public Galaxy Zoo sample of SDSS DR7 galaxies (see
``cosmoalign/data/sdss_dr7/README.md`` for provenance and licence), downsampled from 423 px to
192 px over the whole field of view. They carry no labels: they teach the caption recipes what
real survey galaxies look like. Every file is checked against the sha256 in ``MANIFEST.csv``.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable

from cosmoalign.sources.base import RawItem

SAMPLE_PACKAGE = "cosmoalign.data"
SAMPLE_FOLDER = "sdss_dr7"
SAMPLE_URI = f"package://{SAMPLE_PACKAGE}/{SAMPLE_FOLDER}"


def sdss_sample_items(
    source: str, limit: int | None = None, folder: Traversable | None = None
) -> Iterator[RawItem]:
    """The shipped SDSS cutouts (or another ``folder`` in their layout) as raw JPEG items, at
    most ``limit``; a file whose sha256 differs from the manifest's becomes an item with an
    error, which curation quarantines."""
    folder = folder or files(SAMPLE_PACKAGE) / SAMPLE_FOLDER
    with (folder / "MANIFEST.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[:limit]:
        payload = (folder / row["file"]).read_bytes()
        error = None
        if hashlib.sha256(payload).hexdigest() != row["sha256"]:
            error = f"sha256 mismatch for {folder / row['file']} (damaged installation?)"
        yield RawItem(
            object_id=f"sdss-dr7-{row['source_file'].removesuffix('.jpg')}",
            source=source,
            payload=payload if error is None else b"",
            payload_format="jpeg",
            source_file=f"{SAMPLE_URI}/{row['file']}",
            bands="gri",
            error=error,
        )
