"""Measurements, captions and regions in the materialized graph: each galaxy measured once, the
other two read from it, with progress in the run log."""

import pytest

from cosmoalign.lake import Lake
from cosmoalign.schema import MEASUREMENTS_TABLE


@pytest.mark.slow
def test_each_image_is_measured_once_and_regions_copy_its_boxes(trained):
    instance, lake_root, result = trained
    [measured] = result.asset_materializations_for_node("measurements")
    rows = measured.metadata["dagster/row_count"].value
    assert measured.metadata["measured"].value == rows and measured.metadata["reused"].value == 0
    assert "| spiral |" in measured.metadata["galaxy_types"].value

    lake = Lake(str(lake_root))
    boxes = {
        row["object_id"]: row["region_boxes"]
        for row in lake.read(MEASUREMENTS_TABLE, "embedded").to_pylist()
    }
    regions = lake.read("regions", "embedded").to_pylist()
    assert len(regions) == rows
    assert all(row["boxes"] == boxes[row["object_id"]] for row in regions)

    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    for verb in ("measured", "described the regions of"):
        assert any(
            line.startswith(f"{verb} {rows}/{rows} rows (") and "rows/s" in line and "left" in line
            for line in logs
        ), verb
