"""``python -m cosmoalign.classify``: zero-shot labels of a folder of real galaxies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from cosmoalign.classify.__main__ import main
from cosmoalign.classify.zero_shot import label_probabilities
from cosmoalign.evaluate.embed import embed_texts
from cosmoalign.models import ClipBundle
from cosmoalign.search import FolderEmbeddings

LABELS = ["elliptical", "spiral", "edge-on disk", "merging"]


def test_csv_has_a_row_per_file_and_probabilities_that_sum_to_one(
    tmp_path: Path, galaxies: Path, embedded: FolderEmbeddings, offline_export, cache_dir
) -> None:
    out = tmp_path / "labels.csv"
    argv = [str(galaxies), "--labels", ",".join(LABELS), "--model", str(offline_export)]
    assert main([*argv, "--out", str(out), "--cache-dir", str(cache_dir)]) == 0
    table = pacsv.read_csv(out)
    files = sorted(p.relative_to(galaxies).as_posix() for p in galaxies.rglob("*.jpg"))
    assert table["path"].to_pylist() == files
    probabilities = np.column_stack([table[f"p_{label}"].to_numpy() for label in LABELS])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert (probabilities > 0).all()
    best = [LABELS[i] for i in probabilities.argmax(axis=1)]
    assert table["label"].to_pylist() == best
    np.testing.assert_allclose(table["probability"].to_numpy(), probabilities.max(axis=1))


def test_parquet_with_own_templates_matches_the_library(
    tmp_path: Path,
    galaxies: Path,
    embedded: FolderEmbeddings,
    offline: ClipBundle,
    offline_export: Path,
    cache_dir: Path,
) -> None:
    templates = ["a {} galaxy", "sky with a {}"]
    out = tmp_path / "labels.parquet"
    argv = [str(galaxies), "--labels", "smooth, spiral", "--model", str(offline_export)]
    argv += ["--cache-dir", str(cache_dir), "--out", str(out)]
    assert main([*argv, "--templates", *templates]) == 0
    table = pq.read_table(out)
    assert table.column_names == ["path", "label", "probability", "p_smooth", "p_spiral"]
    assert table["path"].to_pylist() == embedded.paths
    own = label_probabilities(offline, embedded.vectors, ["smooth", "spiral"], templates)
    np.testing.assert_allclose(table["p_spiral"].to_numpy(), own[:, 1], atol=1e-6)
    default = label_probabilities(offline, embedded.vectors, ["smooth", "spiral"])
    assert not np.allclose(own, default)  # the templates matter

    # The more probable label is the one whose mean prompt embedding the image is nearer.
    prompts = embed_texts(offline, [t.format(x) for x in ("smooth", "spiral") for t in templates])
    ensembles = prompts.reshape(2, len(templates), -1).mean(axis=1)
    nearer = (embedded.vectors @ ensembles.T).argmax(axis=1)
    assert (own.argmax(axis=1) == nearer).all()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--labels", "spiral"], "at least two labels"),
        (["--templates", "no placeholder"], "must hold exactly one {}"),
        (["--out", "labels.txt"], "suffix must be one of"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, galaxies: Path, extra, message) -> None:
    assert main([str(galaxies), "--model", "tiny", *extra]) == 2  # refused before embedding
    assert message in capsys.readouterr().err
