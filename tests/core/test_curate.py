from collections import Counter

import numpy as np
import pytest

from cosmoalign.curate import CurationConfig
from cosmoalign.imaging import decode_png, npy_bytes
from cosmoalign.ingest import curate_partition
from cosmoalign.lake import Lake
from cosmoalign.schema import CURATED_TABLE, QUARANTINE_TABLE, RAW_SCHEMA, RAW_TABLE
from tests.shared_data import DECALS_FITS, GZ_SPIRALS, require


def _raw(object_id: str, payload: bytes, fmt: str, label: int = 0, bands: str = "rgb", **extra):
    row = {
        "object_id": object_id,
        "source": "test",
        "label": label,
        "label_name": f"class{label}",
        "ra": None,
        "dec": None,
        "bands": bands,
        "payload": payload,
        "payload_format": fmt,
        "source_file": f"test://{object_id}",
        "error": None,
    }
    row.update(extra)
    return row


def _galaxy(seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - size / 2
    blob = np.exp(-(x**2 + y**2) / (2 * (3 + seed % 5) ** 2))
    return (
        np.stack([blob * 0.5, blob, blob * 1.5], -1) + rng.normal(0, 0.01, (size, size, 3))
    ).astype(np.float32)


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def _write_raw(lake: Lake, rows: list[dict]) -> None:
    with lake.writer(RAW_TABLE, "p", RAW_SCHEMA, rows_per_part=4) as writer:
        writer.write_rows(rows)


def test_bad_files_are_quarantined_and_the_rest_lands(lake):
    fits_bytes = (require(DECALS_FITS) / "example_b.fits").read_bytes()
    jpeg_path = next((require(GZ_SPIRALS) / "train" / "spirals").glob("*.jpg"))
    jpeg_bytes = jpeg_path.read_bytes()
    good = [_raw(f"good-{i}", npy_bytes(_galaxy(i)), "npy", label=i % 2) for i in range(20)]
    nan_image = _galaxy(99)
    nan_image[3, 3, 0] = np.nan
    rows = [
        *good[:10],
        _raw("fits-ok", fits_bytes, "fits", bands="grz"),
        _raw("fits-truncated", fits_bytes[: len(fits_bytes) // 2], "fits", bands="grz"),
        _raw("jpeg-ok", jpeg_bytes, "jpeg"),
        _raw("jpeg-corrupt", jpeg_bytes[: len(jpeg_bytes) // 3], "jpeg"),
        _raw("nan", npy_bytes(nan_image), "npy"),
        _raw("flat", npy_bytes(np.full((32, 32, 3), 7, np.uint8)), "npy"),
        _raw("tiny", npy_bytes(_galaxy(1, size=8)), "npy"),
        _raw("dup-of-good-0", npy_bytes(_galaxy(0)), "npy"),
        _raw("fetch-failed", b"", "none", error="HTTP 404 for https://example/cutout"),
        *good[10:],
    ]
    _write_raw(lake, rows)

    result = curate_partition(lake, "p", CurationConfig(), batch_size=5)

    quarantine = {r["object_id"]: r for r in lake.read(QUARANTINE_TABLE, "p").to_pylist()}
    assert set(quarantine) == {
        "fits-truncated",
        "jpeg-corrupt",
        "nan",
        "flat",
        "tiny",
        "dup-of-good-0",
        "fetch-failed",
    }
    assert "fits" in quarantine["fits-truncated"]["reason"].lower()
    assert quarantine["fits-truncated"]["source_file"] == "test://fits-truncated"
    assert "truncated" in quarantine["jpeg-corrupt"]["reason"].lower()
    assert "NaN" in quarantine["nan"]["reason"]
    assert "same value" in quarantine["flat"]["reason"]
    assert "wrong shape" in quarantine["tiny"]["reason"]
    assert quarantine["dup-of-good-0"]["reason"] == "exact duplicate of good-0"
    assert "404" in quarantine["fetch-failed"]["reason"]

    images = lake.read(CURATED_TABLE, "p").to_pylist()
    assert {r["object_id"] for r in images} == {f"good-{i}" for i in range(20)} | {
        "fits-ok",
        "jpeg-ok",
    }
    fits_row = next(r for r in images if r["object_id"] == "fits-ok")
    rgb = decode_png(fits_row["image_png"])
    assert rgb.shape == (fits_row["height"], fits_row["width"], 3) == (162, 162, 3)
    assert 0 < rgb.mean() < 128  # a sky image: mostly dark, not blank and not saturated
    assert result.report.accepted == 22
    assert result.report.quarantine_rate == pytest.approx(7 / 29)


def test_splits_are_stratified_and_rerun_gives_same_hash(lake):
    rows = [_raw(f"g-{i}", npy_bytes(_galaxy(i)), "npy", label=i % 2) for i in range(40)]
    _write_raw(lake, rows)
    first = curate_partition(lake, "p", CurationConfig())
    second = curate_partition(lake, "p", CurationConfig())
    assert first.images.content_hash == second.images.content_hash
    table = lake.read(CURATED_TABLE, "p").to_pylist()
    counts = Counter((r["label"], r["split"]) for r in table)
    assert counts == {
        (0, "train"): 16,
        (0, "val"): 2,
        (0, "test"): 2,
        (1, "train"): 16,
        (1, "val"): 2,
        (1, "test"): 2,
    }
    assert not any(name.startswith("_work") for name in lake.fs.ls(lake.root, detail=False))


def test_thread_pool_gives_the_same_rows_as_sequential(lake):
    from concurrent.futures import ThreadPoolExecutor

    from cosmoalign.curate import CurationReport, curate_batch

    rows = [_raw(f"g-{i}", npy_bytes(_galaxy(i % 7)), "npy", label=i % 2) for i in range(21)]
    _write_raw(lake, rows)
    [batch] = list(lake.iter_batches(RAW_TABLE, "p", batch_size=100))
    sequential = curate_batch(batch, CurationConfig(), {}, CurationReport())
    with ThreadPoolExecutor(4) as pool:
        threaded = curate_batch(batch, CurationConfig(), {}, CurationReport(), pool)
    assert threaded == sequential
    accepted, rejected = sequential
    assert [r["object_id"] for r in accepted] == [f"g-{i}" for i in range(7)]
    assert rejected[0]["reason"] == "exact duplicate of g-0"


def _compressed_fits(side: int) -> bytes:
    """A tile-compressed FITS image of zeros: tiny on disk, ``side`` x ``side`` once decoded."""
    import io

    from astropy.io import fits

    buffer = io.BytesIO()
    image = fits.CompImageHDU(np.zeros((side, side), np.float32))
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(buffer)
    return buffer.getvalue()


def test_any_failure_of_one_row_is_its_quarantine_reason_and_the_batch_proceeds(lake):
    rows = [
        _raw("good-0", npy_bytes(_galaxy(0)), "npy"),
        _raw("two-band-uint8", npy_bytes((_galaxy(1)[..., :2] * 255).astype(np.uint8)), "npy"),
        _raw("records", npy_bytes(np.zeros((32, 32, 3), [("flux", "f4")])), "npy"),
        _raw("wide-npy", npy_bytes(np.zeros((2, 3000), np.uint8)), "npy"),
        _raw("fits-bomb", _compressed_fits(3000), "fits"),
        _raw("good-1", npy_bytes(_galaxy(3)), "npy"),
    ]
    _write_raw(lake, rows)
    config = CurationConfig(max_pixels=1000 * 1000)
    result = curate_partition(lake, "p", config, batch_size=10)

    quarantine = {r["object_id"]: r for r in lake.read(QUARANTINE_TABLE, "p").to_pylist()}
    assert set(quarantine) == {"two-band-uint8", "records", "wide-npy", "fits-bomb"}
    assert "1, 3 or 4 channels" in quarantine["two-band-uint8"]["reason"]
    assert quarantine["records"]["stage"] == "unexpected"
    assert "did not contain a loop" in quarantine["records"]["reason"]
    assert "3000x3000" in quarantine["fits-bomb"]["reason"]
    assert "not decoded" in quarantine["fits-bomb"]["reason"]
    assert "3000x2 = 6000 pixels" not in quarantine["wide-npy"]["reason"]  # within the cap...
    assert "wrong shape" in quarantine["wide-npy"]["reason"]  # ...but too thin
    assert {r["object_id"] for r in lake.read(CURATED_TABLE, "p").to_pylist()} == {
        "good-0",
        "good-1",
    }
    assert result.report.rejected == Counter({"validate": 2, "decode": 1, "unexpected": 1})


def test_the_npy_header_is_checked_against_the_pixel_cap_before_loading():
    from cosmoalign.imaging import DecodeError, decode_payload

    with pytest.raises(DecodeError, match="2000x1000 = 2000000 pixels, over the cap of 1000000"):
        decode_payload(npy_bytes(np.zeros((1000, 2000, 3), np.uint8)), "npy", 1000 * 1000)
    with pytest.raises(DecodeError, match="7 bands"):
        decode_payload(npy_bytes(np.zeros((20, 20, 7), np.float32)), "npy")
