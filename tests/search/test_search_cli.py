"""``python -m cosmoalign.search`` over a folder of real galaxies: image and text queries, JSON,
the self-contained HTML gallery, and the content-keyed embedding cache."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from cosmoalign.models import ClipBundle
from cosmoalign.search import FolderEmbeddings, embed_folder
from cosmoalign.search.__main__ import main
from cosmoalign.search.folder import render_file
from cosmoalign.search.run import image_vector, search_folder, text_vector


def run_json(capsys: pytest.CaptureFixture, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_folder_was_embedded_whole(embedded: FolderEmbeddings, galaxies: Path) -> None:
    files = sorted(p.relative_to(galaxies).as_posix() for p in galaxies.rglob("*.jpg"))
    assert embedded.paths == files and embedded.skipped == []
    assert embedded.embedded == len(files)
    np.testing.assert_allclose(np.linalg.norm(embedded.vectors, axis=1), 1.0, atol=1e-5)
    assert set(embedded.labels) == {"spirals", "non_spirals"}


def test_search_by_image_returns_that_image_first(
    capsys, embedded: FolderEmbeddings, galaxies: Path, offline_export: Path, cache_dir
) -> None:
    target = embedded.paths[7]
    argv = ["--data", str(galaxies), "--model", str(offline_export), "--cache-dir", str(cache_dir)]
    found = run_json(capsys, [*argv, "--image", target, "--k", "5"])
    hits = found["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0]["id"] == target and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert hits[0]["label"] == target.split("/")[0]
    assert all(h["score"] < 0.9999 for h in hits[1:])
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_an_image_file_from_elsewhere_is_framed_and_embedded_as_the_folder_is(
    embedded: FolderEmbeddings, galaxies: Path, offline: ClipBundle
) -> None:
    target = embedded.paths[30]
    query = image_vector(offline, render_file(galaxies / target))
    hits = search_folder(embedded, query, 3, framing=True)
    assert hits[0].id == target and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].image.startswith(b"\xff\xd8")  # a JPEG thumbnail for the gallery
    with pytest.raises(KeyError, match=r"no/such\.jpg"):
        embedded.index_of("no/such.jpg")


def test_text_search_writes_a_self_contained_gallery(
    capsys,
    tmp_path: Path,
    embedded: FolderEmbeddings,
    galaxies: Path,
    offline_export,
    cache_dir,
    offline: ClipBundle,
) -> None:
    page = tmp_path / "gallery.html"
    argv = ["--data", str(galaxies), "--model", str(offline_export), "--cache-dir", str(cache_dir)]
    found = run_json(capsys, [*argv, "--text", "a spiral galaxy", "--k", "12", "--html", str(page)])
    scores = embedded.vectors @ text_vector(offline, "a spiral galaxy")
    expected = [embedded.paths[i] for i in np.argsort(-scores, kind="stable")[:12]]
    assert [h["id"] for h in found["hits"]] == expected

    html = page.read_text()
    sources = re.findall(r'\bsrc="([^"]*)"', html)
    assert len(sources) == 12 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert not re.search(r"\b(href|src)=\"?(https?:|//)", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    for hit in found["hits"]:
        assert hit["id"] in html


def test_cache_is_reused_and_a_changed_file_is_embedded_again(
    tmp_path: Path, galaxies: Path, offline: ClipBundle
) -> None:
    folder = tmp_path / "three"
    folder.mkdir()
    for path in sorted(galaxies.rglob("*.jpg"))[:3]:
        shutil.copyfile(path, folder / path.name)
    bundle = offline
    cache = tmp_path / "cache"
    first = embed_folder(folder, bundle, cache_dir=cache)
    second = embed_folder(folder, bundle, cache_dir=cache)
    assert (first.embedded, second.embedded) == (3, 0)
    np.testing.assert_array_equal(first.vectors, second.vectors)

    changed = folder / first.paths[1]
    changed.write_bytes((folder / first.paths[0]).read_bytes())  # new content for this path
    third = embed_folder(folder, bundle, cache_dir=cache)
    assert third.embedded == 0  # the same content as another file: already known
    np.testing.assert_array_equal(third.vectors[1], first.vectors[0])

    changed.write_bytes(changed.read_bytes() + b"trailing bytes")  # still a JPEG, new content
    fourth = embed_folder(folder, bundle, cache_dir=cache)
    assert fourth.embedded == 1
    np.testing.assert_array_equal(fourth.vectors[[0, 2]], first.vectors[[0, 2]])

    unframed = embed_folder(folder, bundle, framing=False, cache_dir=cache)
    assert unframed.embedded == 3  # framing is part of the key
    assert not np.allclose(unframed.vectors, fourth.vectors)


def test_bad_input_is_a_one_line_error(capsys, galaxies: Path) -> None:
    assert main(["--data", str(galaxies / "missing"), "--text", "x"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["--data", str(galaxies), "--text", "x", "--k", "0"]) == 2
    assert "--k must be at least 1" in capsys.readouterr().err
