"""Legacy Survey cutouts: a catalog of RA/Dec fetched as FITS from a loopback cutout service."""

from __future__ import annotations

import pytest

from cosmoalign.imaging import decode_payload
from cosmoalign.sources.cutouts import read_catalog
from cosmoalign.sources.http import Downloader
from cosmoalign.sources.legacy_survey import LegacySurveySource
from tests.fixtures.formats import decals_cutouts, galaxy10_coords, write_catalog


@pytest.fixture
def downloader() -> Downloader:
    return Downloader(backoff=0.001, retries=2, max_workers=3, progress=False)


@pytest.fixture
def catalog(tmp_path):
    """Galaxy10's real coordinates, in its own CSV layout (unnamed index, RA, DEC columns)."""
    coords = galaxy10_coords(6)
    rows = [
        {"": i, "RA": ra, "DEC": dec, "label": "spiral" if i % 2 else "elliptical"}
        for i, (ra, dec) in enumerate(coords)
    ]
    return write_catalog(tmp_path / "catalog.csv", rows), coords


def test_fetches_one_fits_cutout_per_row(loopback, downloader, catalog, tmp_path):
    path, coords = catalog
    cutouts = decals_cutouts()

    def cutout(query: dict[str, str]) -> bytes:
        return cutouts[int(float(query["ra"])) % len(cutouts)]

    url = loopback.add("/viewer/cutout.fits", cutout)
    loopback.fail("/viewer/cutout.fits", 503)
    source = LegacySurveySource(path, tmp_path / "raw", base_url=url, downloader=downloader)
    items = list(source.iter_items())

    assert source.class_names() == ["elliptical", "spiral"]
    assert [item.label_name for item in items] == ["elliptical", "spiral"] * 3
    assert [(item.ra, item.dec) for item in items] == [tuple(c) for c in coords]
    first = loopback.requests[-1].query
    assert set(first) == {"ra", "dec", "layer", "pixscale", "size", "bands"}
    assert (first["layer"], first["pixscale"], first["size"], first["bands"]) == (
        "ls-dr10",
        "0.262",
        "256",
        "grz",
    )
    for item in items:
        assert item.error is None and item.payload_format == "fits" and item.bands == "grz"
        assert item.payload == cutouts[int(item.ra) % len(cutouts)]
        assert decode_payload(item.payload, "fits").shape[-1] == 3
        assert (tmp_path / "raw").as_posix() in item.source_file
        assert item.source_file.endswith(".fits")
    assert len(list((tmp_path / "raw").rglob("*.fits"))) == 6

    hits = loopback.hits["/viewer/cutout.fits"]
    assert [item.payload for item in source.iter_items()] == [item.payload for item in items]
    assert loopback.hits["/viewer/cutout.fits"] == hits  # all from the raw cache


def test_a_failing_cutout_is_an_error_item_and_the_rest_proceed(loopback, downloader, tmp_path):
    cutout = decals_cutouts()[-1]
    url = loopback.add("/cutout.fits", lambda query: 500 if query["ra"] == "20.000000" else cutout)
    rows = [{"ra": ra, "dec": 1.5, "object_id": f"obj{ra}"} for ra in (10, 20, 30)]
    catalog = write_catalog(tmp_path / "c.csv", rows)
    source = LegacySurveySource(
        catalog, tmp_path / "raw", base_url=url, layer="ls-dr9", size=64, downloader=downloader
    )
    items = list(source.iter_items())

    assert [item.object_id for item in items] == ["obj10", "obj20", "obj30"]
    assert items[1].payload == b"" and "500" in items[1].error and "ra=20.000000" in items[1].error
    assert "size=64" in items[1].source_file and "layer=ls-dr9" in items[1].source_file
    assert items[0].payload == items[2].payload == cutout
    assert source.class_names() == [] and items[0].label == -1


def test_catalog_errors_name_the_row(tmp_path):
    bad = write_catalog(tmp_path / "bad.csv", [{"ra": 1, "dec": 2}, {"ra": "x", "dec": 2}])
    with pytest.raises(ValueError, match=r"row 3, field 'ra'"):
        read_catalog(bad, "ls")
    no_dec = write_catalog(tmp_path / "no_dec.csv", [{"ra": 1}])
    with pytest.raises(ValueError, match="missing column"):
        read_catalog(no_dec, "ls")
    labels = write_catalog(tmp_path / "l.csv", [{"ra": 1, "dec": 2, "label": "7"}])
    with pytest.raises(ValueError, match="unknown label"):
        read_catalog(labels, "ls", class_names=["a", "b"])


def test_integer_labels_index_the_class_names(tmp_path):
    rows = [{"ra": 1, "dec": 2, "label": 2}, {"ra": 3, "dec": 4, "label": ""}]
    catalog = write_catalog(tmp_path / "c.csv", rows)
    parsed, names = read_catalog(catalog, "ls")
    assert names == ["0", "1", "2"]
    assert [(row.label, row.label_name) for row in parsed] == [(2, "2"), (-1, None)]
    assert parsed[0].object_id == "ls-1.000000+2.000000"
