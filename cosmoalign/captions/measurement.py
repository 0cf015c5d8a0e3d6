"""Each galaxy measured once: morphology, type and regions from one segmentation of its frame.

The galaxy's framed view at :data:`cosmoalign.framing.WORKING_SIZE` is segmented once; its
measurements, its type (:mod:`cosmoalign.captions.galaxy_type`) and its regions
(:mod:`cosmoalign.captions.regions`) are all read off that segmentation, with the smooth-model
residual that the spiral model and the arm finder share computed once. Captions are then
phrased from the numbers (no pixels), and the regions table copies the boxes. Lengths and boxes
are in the original image's pixels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from cosmoalign.captions.base import Region
from cosmoalign.captions.galaxy_type import classify
from cosmoalign.captions.measure import measure_segmentation, segment, smooth_model_residual
from cosmoalign.captions.regions import describe_regions
from cosmoalign.framing import WORKING_SIZE, Frame, framed, measure_frame
from cosmoalign.imaging import decode_png

MEASUREMENT_VERSION = "2"
"""Bump when anything that changes a measurement changes: stored rows of another version are
measured again (and the captions phrased from them written again)."""


@dataclass(frozen=True)
class Measurement:
    """What one galaxy's caption and regions are made of.

    ``frame_share`` is the frame's side over the image's shorter side (the size word);
    ``galaxy_type`` is a kind of :mod:`cosmoalign.captions.galaxy_type` (None when nothing was
    detected); ``center_*``, ``r_half`` and ``semi_major`` are in image pixels, angles in
    radians, ``colour`` the red/blue flux ratio; ``regions`` have image-pixel boxes.
    """

    detected: bool
    frame_share: float
    center_x: float = 0.0
    center_y: float = 0.0
    r_half: float = 0.0
    semi_major: float = 0.0
    ellipticity: float = 0.0
    position_angle: float = 0.0
    concentration: float = 0.0
    asymmetry: float = 0.0
    colour: float = 0.0
    surface_brightness: float = 0.0
    n_neighbours: int = 0
    spiral_probability: float = 0.0
    galaxy_type: str | None = None
    bulge: bool = False
    companion: bool = False
    regions: tuple[Region, ...] = ()

    def row(
        self,
        object_id: str,
        split: str,
        image_sha256: str,
        pixels_sha256: str,
        frame: Sequence[int],
    ) -> dict:
        """The ``measurements`` table row of this measurement."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "regions"}
        return {
            "object_id": object_id,
            "split": split,
            "image_sha256": image_sha256,
            "pixels_sha256": pixels_sha256,
            "frame": [int(v) for v in frame],
            "measurement_version": MEASUREMENT_VERSION,
            **values,
            "region_boxes": [list(region.box) for region in self.regions],
            "region_texts": [region.text for region in self.regions],
            "region_scores": [region.score for region in self.regions],
        }

    @classmethod
    def from_row(cls, row: dict) -> Measurement:
        """A measurement back from its table row."""
        regions = tuple(
            Region(tuple(box), text, score)
            for box, text, score in zip(
                row["region_boxes"], row["region_texts"], row["region_scores"], strict=True
            )
        )
        names = [f.name for f in fields(cls) if f.name != "regions"]
        return cls(**{name: row[name] for name in names}, regions=regions)


def measure_framed(rgb: np.ndarray, frame: Sequence[int]) -> Measurement:
    """Measure the galaxy in ``frame`` (image pixels, square) of a uint8 RGB image."""
    x0, y0, x1, _ = (int(v) for v in frame)
    share = (x1 - x0) / min(rgb.shape[:2])
    seg = segment(framed(rgb, frame, WORKING_SIZE))
    m = measure_segmentation(seg)
    if not m.detected:
        return Measurement(detected=False, frame_share=share)
    residual = smooth_model_residual(seg, m)
    galaxy = classify(seg, m, residual)
    scale = (x1 - x0) / WORKING_SIZE
    regions = tuple(
        Region(
            tuple(
                round(origin + value * scale)
                for origin, value in zip((x0, y0, x0, y0), region.box, strict=True)
            ),
            region.text,
            region.score,
        )
        for region in describe_regions(seg, m, residual)
    )
    morphology = asdict(m)
    return Measurement(
        detected=True,
        frame_share=share,
        # pixel centres: working pixel c covers image pixels [x0 + c * scale, x0 + (c+1) * scale)
        center_x=x0 + (m.center[0] + 0.5) * scale - 0.5,
        center_y=y0 + (m.center[1] + 0.5) * scale - 0.5,
        r_half=m.r_half * scale,
        semi_major=m.semi_major * scale,
        **{
            name: morphology[name]
            for name in (
                "ellipticity",
                "position_angle",
                "concentration",
                "asymmetry",
                "colour",
                "surface_brightness",
                "n_neighbours",
            )
        },
        spiral_probability=galaxy.spiral_probability,
        galaxy_type=galaxy.kind,
        bulge=galaxy.bulge,
        companion=galaxy.companion,
        regions=regions,
    )


def measure_image(rgb: np.ndarray) -> tuple[Frame, Measurement]:
    """Frame a uint8 RGB image (:func:`cosmoalign.framing.measure_frame`) and measure it."""
    frame = measure_frame(rgb)
    return frame, measure_framed(rgb, frame)


def measure_png(job: tuple[bytes, Sequence[int]]) -> tuple[Measurement, str]:
    """Measure a lake row: its PNG bytes and recorded frame (a worker-process job); with the
    :func:`pixel_digest` of the decoded image."""
    png, frame = job
    rgb = decode_png(png)
    return measure_framed(rgb, frame), pixel_digest(rgb)


def png_digest(png: bytes) -> str:
    """The stored image's digest: a changed image makes its measurement stale."""
    return hashlib.sha256(png).hexdigest()


def pixel_digest(rgb: np.ndarray) -> str:
    """The digest of an image's pixels, whatever their encoding: what picks a caption's
    phrasings, so that another PNG encoder (zlib level, Pillow version) re-phrases nothing."""
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
