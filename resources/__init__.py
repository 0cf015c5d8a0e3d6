"""Dagster resources: the lake and the survey sources the assets talk to."""

from resources.lake import LakeResource
from resources.sources import SurveySources

__all__ = ["LakeResource", "SurveySources"]
