"""The Dagster UI in headless Chromium: the asset graph and an asset's metadata table render.

Needs a local Chromium (Debian: ``apt-get install chromium``; ``.ci/run`` installs it) driven by
Playwright; skipped when there is none. Screenshots go to ``$COSMOALIGN_TEST_ARTIFACTS`` or
``tests/artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
import requests

from tests.dagster_env import REPO_ROOT
from tests.fixtures.small_graph import PARTITION
from tests.pipeline.webserver_fixture import Webserver

if TYPE_CHECKING:
    from playwright.sync_api import Page

ASSET = "cosmoclip_evaluation"
"""The asset whose page is checked: an evaluation, with its key-numbers table in metadata."""

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_MS = 30_000

QUERY = """query ($key: AssetKeyInput!, $partition: String!) {
  assetNodes(assetKeys: [$key]) {
    groupName
    dependencies { asset { assetKey { path } groupName } }
    assetMaterializations(partitions: [$partition], limit: 1) {
      runId
      metadataEntries { label ... on MarkdownMetadataEntry { mdStr } }
    }
  }
}"""


def _chromium() -> str | None:
    """A local Chromium binary: ``$COSMOALIGN_CHROMIUM`` or the first one on ``PATH``."""
    if path := os.environ.get("COSMOALIGN_CHROMIUM"):
        return path
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def _artifacts() -> Path:
    """The folder for test artifacts (created)."""
    folder = Path(os.environ.get("COSMOALIGN_TEST_ARTIFACTS") or REPO_ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _first_table_row(entries: list[dict]) -> list[str]:
    """The cells of the first body row of the first markdown table among metadata entries."""
    for entry in entries:
        lines = [line.strip() for line in (entry.get("mdStr") or "").splitlines()]
        for i in range(len(lines) - 2):
            if lines[i].startswith("|") and re.fullmatch(r"\|[-:|\s]+", lines[i + 1]):
                return [cell.strip() for cell in lines[i + 2].strip("|").split("|")]
    raise AssertionError(f"{ASSET} has no markdown table in its metadata: {entries}")


@contextmanager
def _screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    """Keep a screenshot of the page as it was when a check inside failed."""
    try:
        yield
    except Exception:
        with suppress(Exception):  # the check's own error matters more
            page.screenshot(path=str(path), full_page=True)
        raise


def _graph_url(url: str) -> str:
    """The asset's lineage graph: the asset with its upstream assets, names in full."""
    return f"{url}/assets/{ASSET}?view=lineage&lineageScope=upstream&lineageDepth=1"


def _browse(
    sync_api: ModuleType, chromium: str, server: Webserver, node: dict, shots: dict[str, Path]
) -> None:
    """Open the asset graph and the asset's partition page; check them and screenshot them."""
    expect = sync_api.expect
    [materialization] = node["assetMaterializations"]
    row = _first_table_row(materialization["metadataEntries"])
    names = [ASSET, *(d["asset"]["assetKey"]["path"][-1] for d in node["dependencies"])]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            # Dismiss the "Join the Dagster community" dialog shown on loopback.
            page.add_init_script('localStorage.setItem("communityNux", JSON.stringify("1"))')
            with _screenshot_on_failure(page, shots["failure"]):
                page.goto(_graph_url(server.url))
                for name in names:
                    graph_node = page.locator("svg foreignObject").get_by_text(name, exact=True)
                    expect(graph_node.first).to_be_visible(timeout=TIMEOUT_MS)
                page.screenshot(path=str(shots["graph"]))

                page.goto(f"{server.url}/assets/{ASSET}?view=partitions&partition={PARTITION}")
                run_link = page.get_by_text(materialization["runId"][:8], exact=True)
                expect(run_link.first).to_be_visible(timeout=TIMEOUT_MS)
                # A row of the markdown table itself, not of the metadata table around it.
                first_cell = page.get_by_role("cell", name=row[0], exact=True)
                table_row = page.locator("tr:not(:has(table))").filter(has=first_cell).first
                expect(table_row).to_be_visible(timeout=TIMEOUT_MS)
                expect(table_row.locator("td")).to_have_text(row)
                page.screenshot(path=str(shots["asset"]), full_page=True)
        finally:
            browser.close()


@pytest.mark.slow
def test_web_ui_renders_asset_graph_and_metadata_table(webserver: Webserver) -> None:
    """The graph shows the asset and its parents; its partition page, its run and count table."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip(
            "no Chromium binary found (apt-get install chromium, or set COSMOALIGN_CHROMIUM)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    artifacts = _artifacts()
    shots = {
        "graph": artifacts / "web_ui_asset_graph.png",
        "asset": artifacts / f"web_ui_{ASSET}.png",
        "failure": artifacts / "web_ui_failure.png",
    }
    for shot in shots.values():
        shot.unlink(missing_ok=True)

    variables = {"key": {"path": [ASSET]}, "partition": PARTITION}
    answer = requests.post(
        f"{webserver.url}/graphql", json={"query": QUERY, "variables": variables}, timeout=60
    ).json()
    [node] = answer["data"]["assetNodes"]
    assert [m["runId"] for m in node["assetMaterializations"]] == [webserver.run_id]
    _browse(sync_api, chromium, webserver, node, shots)

    for name in ("graph", "asset"):
        png = shots[name].read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000, shots[name]
