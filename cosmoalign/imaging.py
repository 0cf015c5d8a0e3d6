"""Decoding upstream payloads and rendering them as lossless RGB.

Multi-band float images (FITS cutouts, procedural renders) are mapped to RGB with the Lupton et al.
(2004) asinh stretch through :func:`astropy.visualization.make_lupton_rgb`, never a min-max.
Image sizes are read from the header (PNG/JPEG, FITS ``NAXISn``, ``.npy``) and checked against a
pixel cap before any pixel is decoded, so a small compressed file cannot expand into gigabytes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MAX_PIXELS = 4096 * 4096
"""Default cap on an image's width x height, checked on the header before decoding."""
MAX_BANDS = 5
_PIL_FORMATS = ("JPEG", "PNG")


class DecodeError(ValueError):
    """A payload could not be turned into pixels; the message is the quarantine reason."""


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise an array losslessly (dtype and shape kept) as ``.npy`` bytes."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode_payload(payload: bytes, payload_format: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode raw bytes into an ``(H, W, C)`` array (uint8 for photos, float32 for FITS/arrays).

    Raises :class:`DecodeError` for corrupt content, and before decoding when the header
    announces more than ``max_pixels`` pixels per band or more than :data:`MAX_BANDS` bands.
    """
    if not payload:
        raise DecodeError("empty payload")
    try:
        if payload_format == "npy":
            array = _decode_npy(payload, max_pixels)
        elif payload_format == "fits":
            array = _decode_fits(payload, max_pixels)
        elif payload_format in ("jpeg", "png"):
            with Image.open(io.BytesIO(payload), formats=_PIL_FORMATS) as image:
                _check_size(image.size[::-1], payload_format, max_pixels)
                image.load()
                array = np.asarray(image.convert("RGB"))
        else:
            raise DecodeError(f"unknown payload format {payload_format!r}")
    except DecodeError:
        raise
    except Exception as exc:  # decoders raise many types for corrupt input; keep the message
        raise DecodeError(f"cannot decode {payload_format}: {exc}") from exc
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise DecodeError(f"expected a 2-D or 3-D image, got shape {array.shape}")
    return array


def _check_size(shape: tuple[int, ...], payload_format: str, max_pixels: int) -> None:
    """Reject a header's ``(height, width[, bands])`` over the caps, before decoding."""
    height, width = shape[0], shape[1] if len(shape) > 1 else 1
    bands = int(np.prod(shape[2:], dtype=np.int64))
    if height * width > max_pixels:
        raise DecodeError(
            f"{payload_format} header announces {width}x{height} = {width * height} pixels, over "
            f"the cap of {max_pixels}; not decoded"
        )
    if bands > MAX_BANDS:
        raise DecodeError(
            f"{payload_format} header announces {bands} bands, over the cap of {MAX_BANDS}; "
            "not decoded"
        )


def _decode_npy(payload: bytes, max_pixels: int) -> np.ndarray:
    stream = io.BytesIO(payload)
    major, _ = np.lib.format.read_magic(stream)
    formats = np.lib.format
    read_header = formats.read_array_header_1_0 if major == 1 else formats.read_array_header_2_0
    shape, _, _ = read_header(stream)
    _check_size(shape if len(shape) > 1 else (*shape, 1), "npy", max_pixels)
    return np.load(io.BytesIO(payload), allow_pickle=False)


def _decode_fits(payload: bytes, max_pixels: int) -> np.ndarray:
    from astropy.io import fits

    with fits.open(io.BytesIO(payload), memmap=False, lazy_load_hdus=True) as hdus:
        hdu = next((h for h in hdus if h.is_image and h.header.get("NAXIS", 0) > 0), None)
        if hdu is None:
            raise DecodeError("FITS file has no image data in any HDU")
        naxis = [int(hdu.header.get(f"NAXIS{i}", 0)) for i in range(1, hdu.header["NAXIS"] + 1)]
        # NAXIS1 is x (width), NAXIS2 y (height), NAXIS3.. bands: (height, width, bands...)
        _check_size((naxis[1] if len(naxis) > 1 else 1, naxis[0], *naxis[2:]), "FITS", max_pixels)
        data = np.asarray(hdu.data, dtype=np.float32)
    if data.ndim == 3:  # (bands, y, x) as the cutout service returns
        data = np.moveaxis(data, 0, -1)
    # FITS rows run bottom-up; flip so north is up in the rendered image like the survey's JPEGs.
    return np.ascontiguousarray(data[::-1])


# Flux weights of the Legacy Survey viewer's grz rendering, for images in nanomaggies.
LEGACY_SURVEY_WEIGHTS = {"g": 6.0, "r": 3.4, "z": 2.2}


def lupton_rgb(
    bands: np.ndarray,
    weights: tuple[float, float, float] | None = None,
    stretch: float = 0.2,
    q: float = 10.0,
) -> np.ndarray:
    """Render a float ``(H, W, 3)`` image (bands ordered blue to red, e.g. g, r, z) as uint8 RGB.

    With ``weights`` (calibrated fluxes, e.g. :data:`LEGACY_SURVEY_WEIGHTS` for grz nanomaggies)
    each band is scaled by its weight. Without, the scale comes from the image itself (its 99.5th
    percentile of summed flux maps to 1), which suits uncalibrated arrays. Band ratios, and so
    colours, are preserved either way.
    """
    from astropy.visualization import make_lupton_rgb

    flux = np.nan_to_num(bands.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if weights is not None:
        flux = flux * np.asarray(weights, dtype=np.float32)
    else:
        scale = float(np.percentile(flux.sum(axis=-1), 99.5))
        flux = flux / (scale if scale > 0 else (float(np.abs(flux).max()) or 1.0))
    blue, green, red = flux[..., 0], flux[..., 1], flux[..., 2]
    return make_lupton_rgb(red, green, blue, minimum=0.0, stretch=stretch, Q=q)


def to_rgb8(array: np.ndarray, bands: str = "") -> np.ndarray:
    """Make any decoded image an ``(H, W, 3)`` uint8 RGB image.

    uint8 images are taken as already display-ready; float images go through :func:`lupton_rgb`,
    calibrated when ``bands`` is ``"grz"`` (a single band is repeated, a two-band image gets its
    mean as the middle channel, extra bands are dropped).
    """
    channels = array.shape[-1]
    if array.dtype == np.uint8:
        if channels == 1:
            return np.repeat(array, 3, axis=-1)
        return np.ascontiguousarray(array[..., :3])
    weights = None
    if channels == 1:
        array = np.repeat(array, 3, axis=-1)
    elif channels == 2:
        array = np.stack([array[..., 0], array.mean(axis=-1), array[..., 1]], axis=-1)
    elif channels > 3:
        array = array[..., :3]
    elif bands == "grz":
        weights = tuple(LEGACY_SURVEY_WEIGHTS[band] for band in bands)
    return lupton_rgb(array, weights)


STORED = 4
"""zlib level of images kept in the lake. On the demo's curated images (300 of them, one thread)
level 6 took 11.2 ms an image, half of curation's work, level 4 5.5 ms for 4% more bytes
(33.3 against 31.9 KiB), level 3 4.1-5.3 ms for 9% more."""
PASSED_ON = 1
"""zlib level of images made to be decoded at once (evaluation sets, search views): lossless
too, faster to write than :data:`STORED` for a little more size."""


def encode_png(rgb: np.ndarray, compress_level: int = STORED) -> bytes:
    """Encode uint8 RGB losslessly as PNG (deterministic bytes for identical pixels)."""
    buffer = io.BytesIO()
    image = Image.fromarray(rgb, mode="RGB")
    image.save(buffer, format="PNG", optimize=False, compress_level=compress_level)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes written by :func:`encode_png` back to uint8 RGB."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
