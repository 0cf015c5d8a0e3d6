"""Galaxy10 DECaLS: the real download and chunked HDF5 reading on an upstream-format file."""

from __future__ import annotations

import hashlib
import tracemalloc

import h5py
import numpy as np
import pytest

from cosmoalign.imaging import decode_payload
from cosmoalign.labels import GALAXY10_DECALS_CLASSES
from cosmoalign.sources.base import Source
from cosmoalign.sources.galaxy10 import GALAXY10_SHA256, Galaxy10Source
from cosmoalign.sources.http import ChecksumError, Downloader
from tests.fixtures.formats import write_galaxy10_h5


@pytest.fixture
def downloader() -> Downloader:
    return Downloader(backoff=0.001, retries=3, timeout=5, progress=False)


def test_downloads_from_a_mirror_and_yields_every_galaxy(loopback, downloader, tmp_path):
    upstream = tmp_path / "upstream.h5"
    arrays = write_galaxy10_h5(upstream, n=23, size=64)
    primary = loopback.add("/zenodo/Galaxy10_DECals.h5", upstream.read_bytes())
    mirror = loopback.add("/mirror/Galaxy10_DECals.h5", upstream.read_bytes())
    loopback.fail("/zenodo/Galaxy10_DECals.h5", *[500] * 10)
    sha256 = hashlib.sha256(upstream.read_bytes()).hexdigest()
    source: Source = Galaxy10Source(
        tmp_path / "cache", [primary, mirror], sha256, chunk_size=5, downloader=downloader
    )
    items = list(source.iter_items())

    assert len(items) == 23
    assert source.class_names() == GALAXY10_DECALS_CLASSES
    path = tmp_path / "cache" / "Galaxy10_DECals.h5"
    for index, item in enumerate(items):
        assert item.source == "galaxy10_decals" and item.payload_format == "npy"
        assert item.label == arrays["ans"][index]
        assert item.label_name == GALAXY10_DECALS_CLASSES[item.label]
        assert item.ra == pytest.approx(arrays["ra"][index])
        assert item.dec == pytest.approx(arrays["dec"][index])
        assert item.source_file == f"{path}#images[{index}]"
        assert item.bands == "rgb" and item.error is None
        np.testing.assert_array_equal(decode_payload(item.payload, "npy"), arrays["images"][index])
    assert len({item.object_id for item in items}) == 23
    assert items[0].object_id == f"g10-00000-{arrays['ra'][0]:.5f}{arrays['dec'][0]:+.5f}"

    list(source.iter_items())
    assert loopback.hits["/mirror/Galaxy10_DECals.h5"] == 1  # the second pass reads the cache


def test_a_wrong_checksum_fails_before_reading(loopback, downloader, tmp_path):
    upstream = tmp_path / "upstream.h5"
    write_galaxy10_h5(upstream, n=2, size=16)
    url = loopback.add("/Galaxy10_DECals.h5", upstream.read_bytes())
    source = Galaxy10Source(tmp_path / "cache", [url], "ab" * 32, downloader=downloader)
    with pytest.raises(ChecksumError):
        next(source.iter_items())
    assert not any((tmp_path / "cache").glob("Galaxy10*"))


def test_the_download_is_pinned_by_the_published_sha256_by_default(loopback, downloader, tmp_path):
    upstream = tmp_path / "upstream.h5"
    write_galaxy10_h5(upstream, n=2, size=16)
    url = loopback.add("/Galaxy10_DECals.h5", upstream.read_bytes())
    source = Galaxy10Source(tmp_path / "cache", [url], downloader=downloader)
    assert source.sha256 == GALAXY10_SHA256
    with pytest.raises(ChecksumError) as caught:
        next(source.iter_items())  # the test file is not upstream's
    assert caught.value.expected == GALAXY10_SHA256
    assert not any((tmp_path / "cache").glob("Galaxy10*"))


def test_a_local_file_needs_no_download(tmp_path):
    local = tmp_path / "mine.h5"
    arrays = write_galaxy10_h5(local, n=4, size=16)
    source = Galaxy10Source(tmp_path / "cache", urls=["http://127.0.0.1:9/unused"], h5_path=local)
    labels = [item.label for item in source.iter_items()]
    assert labels == list(arrays["ans"])
    assert not (tmp_path / "cache").exists()


def test_reads_chunk_by_chunk_not_the_whole_array(tmp_path):
    local = tmp_path / "big.h5"
    write_galaxy10_h5(local, n=96)  # 96 x 256 x 256 x 3 = 18 MiB of pixels
    whole = 96 * 256 * 256 * 3
    source = Galaxy10Source(tmp_path, h5_path=local, chunk_size=4)
    tracemalloc.start()
    try:
        count = sum(1 for _ in source.iter_items())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 96
    assert peak < whole / 4, f"peak {peak} bytes: more than a few chunks were held"


def test_missing_keys_are_named(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("images", data=np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="ans"):
        list(Galaxy10Source(tmp_path, h5_path=path).iter_items())


def test_out_of_range_labels_are_rejected(tmp_path):
    path = tmp_path / "bad.h5"
    write_galaxy10_h5(path, n=2, size=8)
    with h5py.File(path, "r+") as handle:
        handle["ans"][1] = 12
    with pytest.raises(ValueError, match=r"images\[1\].*label 12"):
        list(Galaxy10Source(tmp_path, h5_path=path).iter_items())
