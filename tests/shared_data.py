"""Locations of the team's real data (../shared/data), read in place and never copied."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DECALS_FITS = SHARED_DATA / "decals-fits"
GZ_SPIRALS = SHARED_DATA / "gz-kaggle-spirals"


def require(path: Path) -> Path:
    """Skip the calling test with a clear reason when the shared data is absent."""
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path
