"""Matplotlib figures written as PNG (headless 'Agg' backend, atomic writes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tumorscope.atomic import atomic_path  # noqa: E402


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Save a figure as PNG atomically and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def training_curves(history: list[dict[str, float]], path: Path) -> None:
    """Loss (left) and validation metrics (right) per epoch."""
    epochs = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in [k for k in history[0] if k.startswith("train_")]:
        a.plot(epochs, [r.get(key, float("nan")) for r in history], label=key.removeprefix("train_"))
    a.set_xlabel("epoch")
    a.set_title("training")
    a.legend()
    for key in [k for k in history[0] if k.startswith("val_")]:
        b.plot(epochs, [r.get(key, float("nan")) for r in history], label=key.removeprefix("val_"))
    b.set_xlabel("epoch")
    b.set_title("validation")
    b.legend()
    fig.tight_layout()
    save_figure(fig, path)
