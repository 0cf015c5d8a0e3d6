"""Arrow schemas of the lake's tables: the data contracts between pipeline stages."""

import pyarrow as pa

# The lake's tables, by name (one Lance dataset per table and partition).
RAW_TABLE = "raw_images"
CURATED_TABLE = "curated_images"
BALANCED_TABLE = "balanced_images"
QUARANTINE_TABLE = "quarantine"
MEASUREMENTS_TABLE = "measurements"
CAPTIONS_TABLE = "captions"
REGIONS_TABLE = "regions"
PAIRS_TABLE = "training_pairs"
SYMBOLS_TABLE = "symbols"
EMBEDDINGS_TABLE = "embeddings"

RAW_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("label", pa.int32(), nullable=False),
        pa.field("label_name", pa.string()),
        pa.field("ra", pa.float64()),
        pa.field("dec", pa.float64()),
        pa.field("bands", pa.string()),
        pa.field("payload", pa.large_binary()),
        pa.field("payload_format", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("error", pa.string()),
    ]
)

IMAGE_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("label", pa.int32(), nullable=False),
        pa.field("label_name", pa.string()),
        pa.field("ra", pa.float64()),
        pa.field("dec", pa.float64()),
        pa.field("image_png", pa.large_binary(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("frame", pa.list_(pa.int32(), 4), nullable=False),
        pa.field("bands", pa.string()),
        pa.field("provenance", pa.string(), nullable=False),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)

ORIGINAL = "original"
"""Provenance of a row that came straight from its survey (augmented rows name their parent)."""

CAPTION_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("label_name", pa.string()),
        pa.field("description", pa.string(), nullable=False),
        pa.field("caption", pa.string(), nullable=False),
        pa.field("captioner", pa.string(), nullable=False),
        pa.field("captioner_version", pa.string(), nullable=False),
        pa.field("prompt_hash", pa.string(), nullable=False),
    ]
)

MEASUREMENT_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("image_sha256", pa.string(), nullable=False),
        pa.field("pixels_sha256", pa.string(), nullable=False),
        pa.field("frame", pa.list_(pa.int32(), 4), nullable=False),
        pa.field("measurement_version", pa.string(), nullable=False),
        pa.field("detected", pa.bool_(), nullable=False),
        pa.field("frame_share", pa.float64(), nullable=False),
        pa.field("center_x", pa.float64(), nullable=False),
        pa.field("center_y", pa.float64(), nullable=False),
        pa.field("r_half", pa.float64(), nullable=False),
        pa.field("semi_major", pa.float64(), nullable=False),
        pa.field("ellipticity", pa.float64(), nullable=False),
        pa.field("position_angle", pa.float64(), nullable=False),
        pa.field("concentration", pa.float64(), nullable=False),
        pa.field("asymmetry", pa.float64(), nullable=False),
        pa.field("colour", pa.float64(), nullable=False),
        pa.field("surface_brightness", pa.float64(), nullable=False),
        pa.field("n_neighbours", pa.int32(), nullable=False),
        pa.field("spiral_probability", pa.float64(), nullable=False),
        pa.field("galaxy_type", pa.string()),
        pa.field("bulge", pa.bool_(), nullable=False),
        pa.field("companion", pa.bool_(), nullable=False),
        pa.field("region_boxes", pa.list_(pa.list_(pa.int32(), 4)), nullable=False),
        pa.field("region_texts", pa.list_(pa.string()), nullable=False),
        pa.field("region_scores", pa.list_(pa.float32()), nullable=False),
    ]
)
"""One row per captioned image: the galaxy measured once (see cosmoalign.captions.measurement);
lengths and boxes in image pixels; ``galaxy_type`` is null when nothing was detected."""

REGION_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("boxes", pa.list_(pa.list_(pa.int32(), 4)), nullable=False),
        pa.field("texts", pa.list_(pa.string()), nullable=False),
        pa.field("scores", pa.list_(pa.float32()), nullable=False),
        pa.field("method", pa.string(), nullable=False),
    ]
)

SYMBOL_SCHEMA = pa.schema(
    [
        pa.field("label", pa.int32(), nullable=False),
        pa.field("label_name", pa.string(), nullable=False),
        pa.field("symbol_key", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("image_png", pa.large_binary(), nullable=False),
        pa.field("provenance", pa.string(), nullable=False),
    ]
)
