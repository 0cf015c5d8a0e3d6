"""Real galaxies and the offline default model, prepared once for the search tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cosmoalign.models import ClipBundle, ModelSpec, build_model, export_open_clip
from cosmoalign.search import FolderEmbeddings, embed_folder
from tests.shared_data import GZ_SPIRALS, require

PER_CLASS = 20
CLASSES = ("spirals", "non_spirals")


@pytest.fixture(scope="session")
def galaxies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 real SDSS galaxies of gz-kaggle-spirals validation (20 per class, class sub-folders),
    copied to a scratch folder (the tests change files; the shared data stays read-only)."""
    validation = require(GZ_SPIRALS / "validation")
    root = tmp_path_factory.mktemp("galaxies")
    for name in CLASSES:
        (root / name).mkdir()
        for path in sorted((validation / name).glob("*.jpg"))[:PER_CLASS]:
            shutil.copyfile(path, root / name / path.name)
    return root


@pytest.fixture(scope="session")
def offline_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline default base model exported as a folder plain open_clip loads."""
    return export_open_clip(build_model(), tmp_path_factory.mktemp("models") / "offline")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def offline(offline_export: Path) -> ClipBundle:
    """The exported offline default, loaded back as the CLIs load it."""
    return build_model(ModelSpec(f"local-dir:{offline_export}"))


@pytest.fixture(scope="session")
def embedded(galaxies: Path, offline: ClipBundle, cache_dir: Path) -> FolderEmbeddings:
    """The 40 galaxies embedded once into the session's cache (the CLIs then read it)."""
    return embed_folder(galaxies, offline, cache_dir=cache_dir)
