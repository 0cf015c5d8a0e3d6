"""GalaxyMNIST: both gzipped HDF5 splits downloaded, gunzipped and read in chunks."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cosmoalign.imaging import decode_payload
from cosmoalign.labels import GALAXY_MNIST_CLASSES
from cosmoalign.sources.galaxy_mnist import GALAXY_MNIST_MD5, GalaxyMNISTSource
from cosmoalign.sources.http import ChecksumError, Downloader
from tests.fixtures.formats import write_galaxy_mnist_gz


@pytest.fixture
def served(loopback, tmp_path):
    """Both upstream files on the loopback server: (urls by split, arrays by split, sha256s)."""
    urls, arrays, sha256 = {}, {}, {}
    for split, n in (("train", 11), ("test", 5)):
        path = tmp_path / f"{split}_dataset.hdf5.gz"
        arrays[split] = write_galaxy_mnist_gz(path, n=n, seed=len(split))
        urls[split] = [loopback.add(f"/{split}_dataset.hdf5.gz", path.read_bytes())]
        sha256[split] = hashlib.sha256(path.read_bytes()).hexdigest()
    return urls, arrays, sha256


def test_yields_both_splits_with_upstream_membership(loopback, served, tmp_path):
    urls, arrays, sha256 = served
    loopback.fail("/train_dataset.hdf5.gz", 500, 500)
    downloader = Downloader(backoff=0.001, progress=False)
    cache = tmp_path / "cache"
    source = GalaxyMNISTSource(cache, urls, sha256, chunk_size=3, downloader=downloader)
    items = list(source.iter_items())

    assert source.class_names() == GALAXY_MNIST_CLASSES
    assert len(items) == 16 and len({item.object_id for item in items}) == 16
    for split, offset in (("train", 0), ("test", 11)):
        for index, item in enumerate(items[offset : offset + len(arrays[split]["labels"])]):
            assert item.source_file == f"{cache / f'{split}_dataset.hdf5'}#images[{index}]"
            assert item.label == arrays[split]["labels"][index]
            assert item.label_name == GALAXY_MNIST_CLASSES[item.label]
            pixels = decode_payload(item.payload, item.payload_format)
            np.testing.assert_array_equal(pixels, arrays[split]["images"][index])
    assert all(item.ra is None and item.bands == "rgb" for item in items)
    assert not list(cache.glob("*.part"))

    list(source.iter_items())
    assert loopback.hits == {"/train_dataset.hdf5.gz": 3, "/test_dataset.hdf5.gz": 1}


def test_a_corrupt_archive_is_deleted_so_the_next_run_downloads_again(loopback, tmp_path):
    urls = {"train": [loopback.add("/train.gz", b"not gzip")], "test": ["http://127.0.0.1:9/"]}
    source = GalaxyMNISTSource(tmp_path, urls, downloader=Downloader(progress=False), md5={})
    with pytest.raises(ValueError, match="not a valid gzip"):
        next(source.iter_items())
    assert list(tmp_path.iterdir()) == []


def test_downloads_are_pinned_by_the_published_md5_by_default(loopback, served, tmp_path):
    urls, _, _ = served
    source = GalaxyMNISTSource(tmp_path, urls, downloader=Downloader(progress=False, retries=0))
    assert source.md5 == GALAXY_MNIST_MD5
    with pytest.raises(ChecksumError) as caught:
        next(source.iter_items())  # the test files are not upstream's
    assert (caught.value.algorithm, caught.value.expected) == ("md5", GALAXY_MNIST_MD5["train"])
    assert list(tmp_path.glob("train_dataset*")) == []
