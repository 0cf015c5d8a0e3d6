"""What the cutout services share: an RA/Dec catalog and one cached HTTP request per object.

The catalog is a CSV with columns ``ra`` and ``dec`` in degrees (any case) and optionally
``label`` (a class id or name) and ``object_id``. Responses are cached as files under
``cache_dir`` keyed by the request, so the cache is the raw area and a rerun sends no request.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cosmoalign.sources.base import UNLABELLED, PayloadFormat, RawItem
from cosmoalign.sources.http import Downloader, FetchRequest

_INT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class CatalogRow:
    """One object of a cutout catalog."""

    object_id: str
    ra: float
    dec: float
    label: int = UNLABELLED
    label_name: str | None = None


def read_catalog(
    path: Path, id_prefix: str, class_names: list[str] | None = None
) -> tuple[list[CatalogRow], list[str]]:
    """Parse and validate a catalog; return its rows and the class names.

    Without ``class_names`` they are ``"0".."N"`` when every label is an integer, else the sorted
    distinct label names. Objects without ``object_id`` get ``<id_prefix>-<ra><dec>``. Raises
    ``ValueError`` naming the file, row and field of the first bad value.
    """
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
        missing = {"ra", "dec"} - set(columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        records = [
            (number, {key: (row.get(name) or "").strip() for key, name in columns.items()})
            for number, row in enumerate(reader, start=2)
        ]
    labels = [r["label"] for _, r in records if r.get("label", "") not in ("", str(UNLABELLED))]
    if class_names is None:
        if all(_INT.fullmatch(value) for value in labels):
            class_names = [str(i) for i in range(max(map(int, labels), default=-1) + 1)]
        else:
            class_names = sorted(set(labels))
    index = {name.strip().casefold(): i for i, name in enumerate(class_names)}
    rows = []
    for number, record in records:

        def fail(field: str, why: str, number: int = number) -> ValueError:
            return ValueError(f"{path}, row {number}, field {field!r}: {why}")

        ra, dec = _coordinate(record["ra"]), _coordinate(record["dec"])
        if ra is None or not 0.0 <= ra <= 360.0:
            raise fail("ra", f"{record['ra']!r} is not an RA in degrees (0..360)")
        if dec is None or not -90.0 <= dec <= 90.0:
            raise fail("dec", f"{record['dec']!r} is not a Dec in degrees (-90..90)")
        value = record.get("label", "")
        label = UNLABELLED
        if value not in ("", str(UNLABELLED)):
            if value.casefold() in index:
                label = index[value.casefold()]
            elif _INT.fullmatch(value) and 0 <= int(value) < len(class_names):
                label = int(value)
            else:
                raise fail("label", f"unknown label {value!r}; classes are {class_names}")
        rows.append(
            CatalogRow(
                object_id=record.get("object_id") or f"{id_prefix}-{ra:.6f}{dec:+.6f}",
                ra=ra,
                dec=dec,
                label=label,
                label_name=class_names[label] if label != UNLABELLED else None,
            )
        )
    return rows, list(class_names)


def _coordinate(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class CutoutSource:
    """Base of the cutout services: subclasses set the class attributes and :meth:`query`.

    Requests run through ``downloader`` (bounded concurrency, retries, polite rate; by default 4
    workers and 10 requests a second). A cutout that still fails yields an item with an empty
    payload and ``error`` set, and the rest proceeds.
    """

    name: str
    payload_format: PayloadFormat
    bands: str
    suffix: str

    def __init__(
        self,
        catalog_csv: Path,
        cache_dir: Path,
        base_url: str,
        downloader: Downloader | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.base_url = base_url
        self.downloader = downloader or Downloader(self.cache_dir, min_interval=0.1, max_workers=4)
        self.rows, self._class_names = read_catalog(Path(catalog_csv), self.name, class_names)

    def class_names(self) -> list[str]:
        """The catalog's class names (empty when it has no labels)."""
        return list(self._class_names)

    def query(self) -> dict[str, object]:
        """The service's query parameters besides ``ra`` and ``dec``."""
        raise NotImplementedError

    def request(self, row: CatalogRow) -> FetchRequest:
        """The request for the cutout of ``row``."""
        params = {"ra": f"{row.ra:.6f}", "dec": f"{row.dec:.6f}", **self.query()}
        return FetchRequest.of(self.base_url, params, self.suffix)

    def iter_items(self) -> Iterator[RawItem]:
        """Yield one item per catalog row, in catalog order."""
        requests = (self.request(row) for row in self.rows)
        fetched = self.downloader.fetch_many(requests, cache_dir=self.cache_dir)
        for row, (request, result) in zip(self.rows, fetched, strict=True):
            ok = isinstance(result, bytes)
            yield RawItem(
                object_id=row.object_id,
                source=self.name,
                payload=result if ok else b"",
                payload_format=self.payload_format,
                source_file=str(request.cache_path(self.cache_dir)) if ok else request.full_url,
                label=row.label,
                label_name=row.label_name,
                ra=row.ra,
                dec=row.dec,
                bands=self.bands,
                error=None if ok else str(result),
            )
