"""The HTML report is self-contained, embeds valid PNGs and shows the numbers it was given."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.decomposition import PCA

from cosmoalign.evaluate import linear_probe, retrieval, similarity_search, zero_shot
from cosmoalign.report import plots
from cosmoalign.report.key_numbers import KEY_COLUMNS, key_numbers_markdown
from cosmoalign.report.page import render_report, write_report
from cosmoalign.report.plots import project_2d

CLASS_NAMES = ["spiral", "elliptical", "merger"]
PLOTS = 3  # confusion matrices, per-class recall, recall curves; the map comes on top
KEY_PATHS = [column.path for column in KEY_COLUMNS]


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def embeddings_and_labels(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASS_NAMES)
    centres = np.eye(len(CLASS_NAMES), 8)
    return normalise(centres[labels] + rng.normal(scale=noise, size=(n, 8))), labels


def model_results(noise: float, seed: int) -> dict:
    images, labels = embeddings_and_labels(30, noise, seed)
    rng = np.random.default_rng(seed + 1)
    texts = normalise(images + rng.normal(scale=noise, size=images.shape))
    prompts = normalise(np.eye(len(CLASS_NAMES), 8)[:, None, :] + rng.normal(size=(3, 2, 8)) / 4)
    return {
        "zero_shot": zero_shot(images, prompts, labels).to_dict(),
        "retrieval": retrieval(images, texts).to_dict(),
        "similarity": similarity_search(images, labels).to_dict(),
        "linear_probe": linear_probe(images, labels).to_dict(),
    }


@pytest.fixture(scope="module")
def results() -> dict:
    built = {
        "dataset": "toy <galaxies>",
        "class_names": CLASS_NAMES,
        "models": {"base": model_results(1.0, 0), "fine-tuned": model_results(0.3, 1)},
    }
    return json.loads(json.dumps(built, allow_nan=False))  # as it arrives from storage


def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(buffer, format="PNG")
    return buffer.getvalue()


GALLERY = [
    (png("red"), "a red query", [(png("red"), "red 1", "spiral"), (png("blue"), "blue", 2)]),
    (png("green"), "a green query", [(png("green"), "green 1", "merger")]),
]


class ReportParser(HTMLParser):
    """Collects image sources, link targets and the numeric table cells of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.cells: dict[tuple[str, str, str], tuple[float, str]] = {}
        self._table = self._model = ""
        self._cell: tuple[str, str, str] | None = None
        self._value = 0.0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes["src"] or "")
        for name in ("src", "href"):
            if name in attributes:
                self.links.append(attributes[name] or "")
        if tag == "table":
            self._table = attributes.get("class") or ""
        elif tag == "tr":
            self._model = attributes.get("data-model") or ""
        elif tag == "td" and "data-value" in attributes:
            self._cell = (self._table, self._model, attributes["data-metric"] or "")
            self._value = float(attributes["data-value"] or "nan")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self.cells[self._cell] = (self._value, data)
            self._cell = None


def parse(html_text: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html_text)
    parser.close()
    return parser


def lookup(model: dict, path: tuple[str, ...]) -> float:
    for key in path:
        model = model[key]
    return model


def test_report_embeds_one_png_per_plot_and_gallery_image(results: dict) -> None:
    embeddings, labels = embeddings_and_labels(30, 0.3, 1)
    html_text = render_report(
        results, embeddings=embeddings, labels=labels, gallery=GALLERY, title="Toy <report>"
    )
    parser = parse(html_text)

    gallery_images = sum(1 + len(neighbours) for _, _, neighbours in GALLERY)
    assert len(parser.images) == PLOTS + 1 + gallery_images
    for source in parser.images:
        prefix, data = source.split(",", 1)
        assert prefix == "data:image/png;base64"
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as image:
            assert image.format == "PNG"
            image.verify()
    assert "<title>Toy &lt;report&gt;</title>" in html_text
    assert "toy &lt;galaxies&gt;" in html_text
    assert len(html_text) < 3_000_000


def test_report_is_self_contained(results: dict) -> None:
    html_text = render_report(results, gallery=GALLERY, title="Toy")
    parser = parse(html_text)
    assert parser.links and all(link.startswith("data:") for link in parser.links)
    assert "http://" not in html_text and "https://" not in html_text


def test_key_numbers_table_holds_the_exact_results(results: dict) -> None:
    parser = parse(render_report(results, title="Toy"))
    for model, numbers in results["models"].items():
        for path in KEY_PATHS:
            value, shown = parser.cells[("key-numbers", model, ".".join(path))]
            assert value == lookup(numbers, path)
            assert shown == f"{lookup(numbers, path):.3f}"
    assert len([cell for cell in parser.cells if cell[0] == "key-numbers"]) == 2 * len(KEY_PATHS)


def test_markdown_table_shows_the_same_numbers_as_html(results: dict) -> None:
    markdown = key_numbers_markdown(results)
    lines = markdown.strip().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[0] == "model" and "mAP@10" in header and len(header) == 1 + len(KEY_PATHS)
    assert set(lines[1].replace("|", "").split()) == {"---"}

    html_cells = parse(render_report(results, title="Toy")).cells
    rows = {line.strip("|").split("|")[0].strip(): line for line in lines[2:]}
    assert list(rows) == list(results["models"])
    for model, numbers in results["models"].items():
        shown = [cell.strip() for cell in rows[model].strip("|").split("|")[1:]]
        assert shown == [f"{lookup(numbers, path):.3f}" for path in KEY_PATHS]
        assert shown == [html_cells[("key-numbers", model, ".".join(p))][1] for p in KEY_PATHS]


def test_few_embeddings_are_mapped_with_pca(results: dict) -> None:
    embeddings, labels = embeddings_and_labels(6, 0.3, 2)
    expected = PCA(n_components=2, random_state=0).fit_transform(embeddings)
    np.testing.assert_allclose(project_2d(embeddings), expected, atol=1e-5)
    html_text = render_report(results, embeddings=embeddings, labels=labels, title="Toy")
    assert len(parse(html_text).images) == PLOTS + 1


def test_tsne_map_is_reproducible() -> None:
    embeddings, _ = embeddings_and_labels(30, 0.3, 3)
    points = project_2d(embeddings)
    assert points.shape == (30, 2)
    np.testing.assert_array_equal(points, project_2d(embeddings))


def count_projections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of points of each projection computed from now on."""
    computed: list[int] = []
    project = plots._project

    def counted(embeddings: np.ndarray, seed: int) -> np.ndarray:
        computed.append(len(embeddings))
        return project(embeddings, seed)

    monkeypatch.setattr(plots, "_project", counted)
    return computed


def test_map_projection_is_cached_by_its_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embeddings, _ = embeddings_and_labels(6, 0.3, 2)
    computed = count_projections(monkeypatch)
    points = project_2d(embeddings, cache_dir=tmp_path)
    np.testing.assert_array_equal(project_2d(embeddings, cache_dir=tmp_path), points)
    np.testing.assert_array_equal(project_2d(embeddings), points)
    assert computed == [6, 6]  # the uncached call computes

    project_2d(embeddings[:5], cache_dir=tmp_path)
    project_2d(embeddings, seed=1, cache_dir=tmp_path)
    project_2d(embeddings.astype(np.float64), cache_dir=tmp_path)
    assert computed == [6, 6, 5, 6, 6] and len(list(tmp_path.glob("*.map.npz"))) == 4


def test_unreadable_projection_cache_is_computed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embeddings, _ = embeddings_and_labels(6, 0.3, 2)
    points = project_2d(embeddings, cache_dir=tmp_path)
    [stored] = tmp_path.glob("*.map.npz")
    stored.write_bytes(stored.read_bytes()[:-8])
    computed = count_projections(monkeypatch)
    np.testing.assert_array_equal(project_2d(embeddings, cache_dir=tmp_path), points)
    np.testing.assert_array_equal(project_2d(embeddings, cache_dir=tmp_path), points)
    assert computed == [6]  # the damaged file was replaced


def test_report_map_reads_the_cached_projection(
    results: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embeddings, labels = embeddings_and_labels(6, 0.3, 2)
    computed = count_projections(monkeypatch)
    first = render_report(
        results, embeddings=embeddings, labels=labels, title="Toy", cache_dir=tmp_path
    )
    second = render_report(
        results, embeddings=embeddings, labels=labels, title="Toy", cache_dir=tmp_path
    )
    assert computed == [6] and second == first


def test_embeddings_need_labels(results: dict) -> None:
    embeddings, _ = embeddings_and_labels(6, 0.3, 2)
    with pytest.raises(ValueError, match="give both or neither"):
        render_report(results, embeddings=embeddings, title="Toy")


def test_write_report_replaces_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "eval.html"
    write_report(target, "<p>old</p>")
    write_report(target, "<p>new ✓</p>")
    assert target.read_text(encoding="utf-8") == "<p>new ✓</p>"
    assert [path.name for path in target.parent.iterdir()] == ["eval.html"]
