"""SpaceNet through a loopback Kaggle API, and the safe extraction of its archive."""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections import Counter

import pytest

from cosmoalign.archives import UnsafeArchiveError, extract_archive
from cosmoalign.labels import SPACENET_CLASSES
from cosmoalign.sources.http import Downloader, DownloadError
from cosmoalign.sources.spacenet import KaggleCredentials, SpaceNetSource, spacenet_label
from tests.fixtures.formats import jpeg, spacenet_files, write_zip
from tests.fixtures.loopback import LoopbackServer

DATASET = "razaimam45/spacenet-an-optimally-distributed-astronomy-data"
FOLDERS = ["Asteroids", "black_holes", "comets", "constellation", "Galaxies", "nebulae", "planets"]
CREDENTIALS = KaggleCredentials("astro", "k4ggle-s3cret")


@pytest.fixture
def kaggle(tmp_path):
    """A loopback Kaggle API serving a SpaceNet zip behind basic auth."""
    archive = write_zip(tmp_path / "upstream.zip", spacenet_files(FOLDERS, per_class=2))
    with LoopbackServer(auth=(CREDENTIALS.username, CREDENTIALS.key)) as server:
        server.add(f"/api/v1/datasets/download/{DATASET}", archive.read_bytes())
        yield server


def downloader() -> Downloader:
    return Downloader(backoff=0.001, retries=1, progress=False)


def test_downloads_with_kaggle_credentials_and_maps_class_folders(kaggle, tmp_path):
    source = SpaceNetSource(
        tmp_path / "cache",
        credentials=CREDENTIALS,
        api_base=kaggle.url("/api/v1"),
        downloader=downloader(),
    )
    items = list(source.iter_items())

    assert source.class_names() == SPACENET_CLASSES
    counts = Counter(item.label_name for item in items)
    assert counts == {name: 2 for name in SPACENET_CLASSES if name != "star"}
    assert all(SPACENET_CLASSES[item.label] == item.label_name for item in items)
    assert {item.source for item in items} == {"spacenet"}
    assert all(item.payload_format == "jpeg" and item.payload for item in items)
    assert (tmp_path / "cache" / "spacenet" / "SpaceNet.FLARE" / "planets").is_dir()

    assert len(list(source.iter_items())) == len(items)
    assert kaggle.hits[f"/api/v1/datasets/download/{DATASET}"] == 1


def test_wrong_credentials_fail_without_revealing_the_key(kaggle, tmp_path, caplog):
    wrong = KaggleCredentials("astro", "not-the-key")
    source = SpaceNetSource(
        tmp_path, credentials=wrong, api_base=kaggle.url("/api/v1"), downloader=downloader()
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(DownloadError) as caught:
        list(source.iter_items())
    assert caught.value.status == 401
    assert "not-the-key" not in str(caught.value) + caplog.text + repr(wrong)


def test_reads_an_already_downloaded_folder(tmp_path):
    for name, data in spacenet_files(["Stars", "Black Hole"], per_class=3).items():
        path = tmp_path / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    source = SpaceNetSource(tmp_path / "cache", folder=tmp_path / "data")
    assert Counter(item.label_name for item in source.iter_items()) == {"star": 3, "black hole": 3}


def test_without_data_or_credentials_says_what_to_configure(tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="KAGGLE_USERNAME"):
        list(SpaceNetSource(tmp_path).iter_items())


def test_unknown_class_folders_are_rejected(tmp_path):
    (tmp_path / "data" / "spaceships").mkdir(parents=True)
    (tmp_path / "data" / "spaceships" / "a.jpg").write_bytes(jpeg())
    (tmp_path / "data" / "planets").mkdir()
    with pytest.raises(ValueError, match="spaceships"):
        list(SpaceNetSource(tmp_path, folder=tmp_path / "data").iter_items())


def test_credentials_come_from_the_environment_or_kaggle_json(tmp_path):
    env = {"KAGGLE_USERNAME": "u", "KAGGLE_KEY": "k"}
    assert KaggleCredentials.discover(env) == KaggleCredentials("u", "k")
    (tmp_path / "kaggle.json").write_text(json.dumps({"username": "v", "key": "w"}))
    found = KaggleCredentials.discover({"KAGGLE_CONFIG_DIR": str(tmp_path)})
    assert found == KaggleCredentials("v", "w")
    assert KaggleCredentials.discover({"KAGGLE_CONFIG_DIR": str(tmp_path / "none")}) is None


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("planets", "planet"),
        ("Black_Holes", "black hole"),
        ("galaxies", "galaxy"),
        ("Nebulae", "nebula"),
        ("constellations", "constellation"),
        ("misc", None),
    ],
)
def test_folder_names_map_to_spacenet_classes(folder, expected):
    label = spacenet_label(folder)
    assert (SPACENET_CLASSES[label] if label is not None else None) == expected


@pytest.mark.parametrize("member", ["../evil.txt", "ok/../../evil.txt", "/abs/evil.txt", "C:/x"])
def test_zip_members_outside_the_destination_are_rejected(tmp_path, member):
    archive = write_zip(tmp_path / "bad.zip", {"fine.txt": b"ok", member: b"pwned"})
    with pytest.raises(UnsafeArchiveError, match=r"evil|C:"):
        extract_archive(archive, tmp_path / "out" / "dest")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()


def test_zip_symlinks_are_rejected(tmp_path):
    archive = write_zip(tmp_path / "link.zip", {"a.txt": b"a"}, symlinks={"link": "/etc/passwd"})
    with pytest.raises(UnsafeArchiveError, match="link"):
        extract_archive(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def _tar(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_tar_traversal_and_links_are_rejected_and_good_tars_extract(tmp_path):
    def regular(name, data=b"x"):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        return info, data

    link = tarfile.TarInfo("inner/link")
    link.type, link.linkname = tarfile.SYMTYPE, "../../outside"
    for bad in ([regular("../evil")], [regular("a"), (link, None)]):
        with pytest.raises(UnsafeArchiveError):
            extract_archive(_tar(tmp_path / "bad.tgz", bad), tmp_path / "dest")
        assert not (tmp_path / "dest").exists()

    good = _tar(tmp_path / "good.tgz", [regular("./top/a.txt", b"hello")])
    assert (extract_archive(good, tmp_path / "dest") / "top" / "a.txt").read_bytes() == b"hello"


def test_size_limit_and_non_archives(tmp_path):
    archive = write_zip(tmp_path / "big.zip", {"a": b"0" * 1000})
    with pytest.raises(UnsafeArchiveError, match="exceeds"):
        extract_archive(archive, tmp_path / "dest", max_bytes=999)
    (tmp_path / "plain.txt").write_bytes(b"not an archive")
    with pytest.raises(UnsafeArchiveError, match="neither"):
        extract_archive(tmp_path / "plain.txt", tmp_path / "dest")
