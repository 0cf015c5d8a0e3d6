"""The search gallery in headless Chromium: every image renders with the network cut off."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosmoalign.models import ClipBundle
from cosmoalign.search import FolderEmbeddings
from cosmoalign.search.gallery import render_gallery
from cosmoalign.search.run import search_folder, text_vector
from tests.pipeline.test_webserver_ui import _artifacts, _chromium


@pytest.mark.slow
def test_gallery_renders_offline_in_chromium(
    tmp_path: Path, embedded: FolderEmbeddings, offline: ClipBundle
) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (apt-get install chromium, or set COSMOALIGN_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    hits = search_folder(embedded, text_vector(offline, "a spiral galaxy"), 8, framing=True)
    page_path = tmp_path / "gallery.html"
    page_path.write_text(render_gallery("spirals", "a spiral galaxy", hits))

    requested: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.route("**/*", lambda route: _only_the_page(route, page_path, requested))
            page.goto(page_path.as_uri())
            widths = page.eval_on_selector_all("figure img", "els => els.map(e => e.naturalWidth)")
            page.screenshot(path=str(_artifacts() / "search_gallery.png"), full_page=True)
        finally:
            browser.close()
    assert requested == []  # nothing but the page itself was fetched
    assert len(widths) == len(hits) and all(width > 0 for width in widths)


def _only_the_page(route, page_path: Path, requested: list[str]) -> None:
    if route.request.url == page_path.as_uri():
        route.continue_()
    else:
        requested.append(route.request.url)
        route.abort()
