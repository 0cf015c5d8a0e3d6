"""Model exports in an object-store lake: each upload is a fresh versioned prefix, published
by a marker written last.

Layout: ``<root>/<recipe>_model/<dataset>/<version>/`` holds one export folder's files and
``<root>/<recipe>_model/<dataset>/CURRENT`` names the newest complete version. The marker is one
PUT, so a reader sees the previous export or the new one, whole, never a half-copied folder; an
upload that dies before its marker leaves only an unreferenced prefix.
"""

from __future__ import annotations

import posixpath
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cosmoalign.lake import Lake
from cosmoalign.models.export import CONFIG_FILE, relocate_export
from cosmoalign.models.model_card import CARD_FILE, FACTS_FILE

MARKER = "CURRENT"


def upload_export(lake: Lake, export_dir: Path, relative: str) -> str:
    """Copy an export folder to a new version under ``<root>/<relative>/``, then point the
    marker at it; return the version's URL."""
    export_dir = Path(export_dir)
    if not (export_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{export_dir} has no {CONFIG_FILE}: not an export to upload")
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    target = posixpath.join(lake.root, relative, version)
    files = sorted(p for p in export_dir.rglob("*") if p.is_file())
    lake.fs.put(
        [str(p) for p in files],
        [posixpath.join(target, p.relative_to(export_dir).as_posix()) for p in files],
    )
    lake.write_bytes(posixpath.join(relative, MARKER), version.encode())
    return target


def current_export(lake: Lake, relative: str) -> str:
    """URL of the newest complete export under ``<root>/<relative>/``."""
    marker = posixpath.join(lake.root, relative, MARKER)
    try:
        version = lake.fs.cat_file(marker).decode().strip()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no published model export at {posixpath.join(lake.root, relative)} (no {MARKER} "
            "marker: materialize the model asset first)"
        ) from None
    return posixpath.join(lake.root, relative, version)


def download_export(lake: Lake, relative: str, into: Path) -> Path:
    """The newest export under ``<root>/<relative>/`` as a local folder ``into/<version>``
    (downloaded once: a version never changes but for its model card)."""
    source = current_export(lake, relative)
    local = Path(into) / posixpath.basename(source)
    if (local / CONFIG_FILE).is_file():
        return local
    staging = local.with_name(f".{local.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        lake.fs.get(source + "/", str(staging), recursive=True)
        staging.rename(local)
        relocate_export(local)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return local


def upload_card(lake: Lake, relative: str, local: Path) -> None:
    """Copy the model card of a folder from :func:`download_export` (updated with an
    evaluation) back to the version it was downloaded from: one PUT per file."""
    version_url = posixpath.join(lake.root, relative, Path(local).name)
    for name in (FACTS_FILE, CARD_FILE):
        lake.fs.put_file(str(Path(local) / name), posixpath.join(version_url, name))
