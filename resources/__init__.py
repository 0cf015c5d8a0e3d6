"""Dagster resources: the lake, the survey sources and the launcher the assets talk to."""

from resources.lake import LakeResource
from resources.launcher import AccelerateLauncher
from resources.sources import SurveySources

__all__ = ["AccelerateLauncher", "LakeResource", "SurveySources"]
