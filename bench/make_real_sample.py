"""Rebuild the compact real sample that ships in ``cosmoalign/data/sdss_dr7`` (a maintainer's tool).

Takes the first ``--count`` cutouts (by their salted file names, i.e. an unbiased draw) of
``../shared/data/sdss-unlabelled``, downsamples each 423 px SDSS gri JPEG to ``--size`` px over
the whole field of view and writes ``<index>.jpg`` plus ``MANIFEST.csv`` with the source file
name and both sha256 digests. The embedded source verifies the manifest when it reads the sample.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "sdss-unlabelled"
TARGET = ROOT / "cosmoalign" / "data" / "sdss_dr7"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--quality", type=int, default=88)
    args = parser.parse_args()
    files = sorted(SOURCE.glob("*.jpg"))[: args.count]
    rows = []
    for index, path in enumerate(files):
        original = path.read_bytes()
        image = Image.open(io.BytesIO(original)).convert("RGB")
        image = image.resize((args.size, args.size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=args.quality)
        name = f"sdss-{index:05d}.jpg"
        (TARGET / name).write_bytes(buffer.getvalue())
        rows.append(
            {
                "file": name,
                "source_file": path.name,
                "source_sha256": hashlib.sha256(original).hexdigest(),
                "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
            }
        )
    with (TARGET / "MANIFEST.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    total = sum((TARGET / row["file"]).stat().st_size for row in rows)
    print(f"{len(rows)} images, {total / 2**20:.1f} MiB in {TARGET}")


if __name__ == "__main__":
    main()
