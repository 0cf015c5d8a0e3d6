"""Arrow schemas of the lake's tables: the data contracts between pipeline stages."""

import pyarrow as pa

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
