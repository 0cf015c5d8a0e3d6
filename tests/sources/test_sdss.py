"""SDSS SkyServer: JPEG cutouts by RA/Dec from a loopback ImgCutout service."""

from __future__ import annotations

import numpy as np

from cosmoalign.imaging import decode_payload
from cosmoalign.sources.http import Downloader
from cosmoalign.sources.sdss import SDSSSource
from tests.fixtures.formats import sdss_jpegs, write_catalog


def test_fetches_jpeg_cutouts_with_retries_and_caches_them(loopback, tmp_path):
    jpegs = sdss_jpegs(4)  # real SDSS galaxy JPEGs when the shared data is present
    url = loopback.add("/ImgCutout/getjpeg", lambda query: jpegs[int(query["ra"][0])])
    loopback.fail("/ImgCutout/getjpeg", 500, 500)  # the first two requests fail, then recover
    rows = [
        {"object_id": f"sdss{i}", "ra": i + 0.25, "dec": -1.0, "label": i % 2} for i in range(4)
    ]
    catalog = write_catalog(tmp_path / "catalog.csv", rows)
    downloader = Downloader(backoff=0.001, max_workers=2, progress=False)
    source = SDSSSource(catalog, tmp_path / "raw", base_url=url, width=128, downloader=downloader)
    items = list(source.iter_items())

    assert [item.object_id for item in items] == ["sdss0", "sdss1", "sdss2", "sdss3"]
    assert [item.payload for item in items] == jpegs
    assert all(item.error is None for item in items)
    assert {(item.payload_format, item.bands) for item in items} == {("jpeg", "rgb")}
    assert source.class_names() == ["0", "1"] and [item.label for item in items] == [0, 1, 0, 1]
    pixels = decode_payload(items[0].payload, "jpeg")
    assert pixels.dtype == np.uint8 and pixels.shape[-1] == 3
    query = loopback.requests[-1].query
    assert (query["scale"], query["width"], query["height"]) == ("0.396", "128", "256")
    assert all(item.source_file.endswith(".jpg") for item in items)

    requests_before = len(loopback.requests)
    assert [item.payload for item in source.iter_items()] == jpegs
    assert len(loopback.requests) == requests_before
