"""One measurement per galaxy: the type and regions of the separate steps, in image pixels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from cosmoalign.captions.galaxy_type import classify
from cosmoalign.captions.measure import measure_galaxy, measure_segmentation, segment
from cosmoalign.captions.measurement import Measurement, measure_framed, measure_image
from cosmoalign.captions.regions import describe_regions
from cosmoalign.framing import WORKING_SIZE, framed
from cosmoalign.schema import MEASUREMENT_SCHEMA
from tests.captions.test_measure import SIZE, render


@pytest.mark.parametrize("class_id", [1, 5, 8])
def test_one_pass_gives_what_the_separate_steps_give(class_id: int) -> None:
    image = render(class_id, 3)[1]
    frame = (16, 8, 112, 104)  # 96 px: boxes scale by 0.75 back to the image
    m = measure_framed(image, frame)
    seg = segment(framed(image, frame, WORKING_SIZE))
    morphology = measure_segmentation(seg)
    galaxy = classify(seg, morphology)
    assert (m.galaxy_type, m.bulge, m.companion) == (galaxy.kind, galaxy.bulge, galaxy.companion)
    assert m.spiral_probability == pytest.approx(galaxy.spiral_probability, abs=1e-12)
    assert m.ellipticity == morphology.ellipticity
    regions = describe_regions(seg, morphology)
    assert [r.text for r in m.regions] == [r.text for r in regions]
    for mapped, working in zip(m.regions, regions, strict=True):
        expected = [round(o + 0.75 * v) for o, v in zip((16, 8, 16, 8), working.box, strict=True)]
        assert list(mapped.box) == expected
    assert m.frame_share == 96 / SIZE


def test_lengths_are_in_image_pixels() -> None:
    image = render(2, 11, n_stars=0)[1]
    doubled = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    small = measure_framed(image, (0, 0, SIZE, SIZE))
    large = measure_framed(doubled, (0, 0, 2 * SIZE, 2 * SIZE))
    assert small.r_half == pytest.approx(measure_galaxy(image).r_half)
    assert large.r_half == pytest.approx(2 * small.r_half, rel=0.1)
    assert large.center_x == pytest.approx(2 * small.center_x + 0.5, abs=1.0)
    assert large.galaxy_type == small.galaxy_type


def test_rows_round_trip_through_the_table_schema() -> None:
    frame, m = measure_image(render(9, 2)[1])
    row = m.row("g", "val", "d" * 64, "p" * 64, frame)
    stored = pa.Table.from_pylist([row], MEASUREMENT_SCHEMA)
    back = Measurement.from_row(stored.to_pylist()[0])
    assert back.regions and [r.box for r in back.regions] == [r.box for r in m.regions]
    assert [r.score for r in back.regions] == pytest.approx([r.score for r in m.regions], 1e-6)
    assert back == Measurement(**{**m.__dict__, "regions": back.regions})


def test_an_empty_image_is_measured_as_nothing_detected() -> None:
    frame, m = measure_image(np.zeros((40, 40, 3), np.uint8))
    assert frame == (0, 0, 40, 40)
    assert not m.detected and m.galaxy_type is None and m.regions == ()
    row = m.row("empty", "train", "0" * 64, "1" * 64, frame)
    assert pa.Table.from_pylist([row], MEASUREMENT_SCHEMA).column("galaxy_type")[0].as_py() is None
