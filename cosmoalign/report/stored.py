"""Where a report's files live in the lake: ``reports/<report>/<partition>/`` holds
``results.json`` (the numbers) and ``report.html`` (the page)."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

from cosmoalign.lake import Lake


@dataclass(frozen=True)
class StoredReport:
    """The paths of a written report and its results as the JSON text written."""

    results_path: str
    html_path: str
    results_json: str


def report_folder(report: str, partition: str) -> str:
    """The lake-relative folder of ``report`` (an asset name) for ``partition``."""
    return posixpath.join("reports", report, partition)


def write_report(lake: Lake, report: str, partition: str, results: dict, html: str) -> StoredReport:
    """Write the results (strict JSON: no NaN) and the page, each atomically."""
    folder = report_folder(report, partition)
    text = json.dumps(results, indent=2, allow_nan=False)
    results_path = lake.write_bytes(f"{folder}/results.json", text.encode())
    html_path = lake.write_bytes(f"{folder}/report.html", html.encode())
    return StoredReport(results_path, html_path, text)


def read_results(lake: Lake, report: str, partition: str) -> dict:
    """The results a report wrote for ``partition``."""
    path = posixpath.join(lake.root, report_folder(report, partition), "results.json")
    with lake.fs.open(path, "rb") as handle:
        return json.load(handle)
