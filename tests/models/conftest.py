"""Models built once per session: the offline default takes seconds, the tiny one milliseconds."""

from __future__ import annotations

import pytest

from cosmoalign.models import ClipBundle, ModelSpec, build_model


@pytest.fixture(scope="session")
def offline_bundle() -> ClipBundle:
    """The offline default (pretrained EfficientNet-Lite0 + MiniLM towers), eval mode."""
    return build_model(ModelSpec("offline-default"))


@pytest.fixture
def tiny_bundle() -> ClipBundle:
    """A fresh tiny random model, eval mode."""
    return build_model(ModelSpec("tiny"))
