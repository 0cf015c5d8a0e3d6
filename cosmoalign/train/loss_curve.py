"""A training loss curve as a PNG, for the model asset's metadata."""

from __future__ import annotations

import io


def loss_curve_png(rows: list[dict]) -> bytes:
    """Plot total loss (and any logged parts) against optimizer step."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3), dpi=90)
    steps = [row["step"] for row in rows]
    parts = [k for k in rows[0] if k not in ("step", "lr", "samples_per_second")] if rows else []
    for name in parts:
        axis.plot(steps, [row[name] for row in rows], label=name, lw=2 if name == "loss" else 1)
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    if parts:
        axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
