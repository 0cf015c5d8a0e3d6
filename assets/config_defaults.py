"""Dagster configs take their defaults from the core's dataclasses, so each is written once."""

from dataclasses import MISSING, fields
from typing import Any


def defaults_of(core: type) -> dict[str, Any]:
    """The default of every field of the dataclass ``core`` that has a plain default."""
    return {f.name: f.default for f in fields(core) if f.default is not MISSING}
