"""Matplotlib figures written as PNG (headless 'Agg' backend, atomic writes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

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


# --- figures for the HTML report and the explanation outputs ---------------------------------------------


def pr_plot(y: np.ndarray, probs: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """One precision-recall curve per class (that class vs the rest), average precision in the legend."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for k, name in enumerate(classes):
        truth = np.asarray(y) == k
        if len(classes) == 2 and k == 0:
            continue  # binary: the positive class (index 1) tells it all
        if 0 < truth.sum() < len(truth):
            prec, rec, _ = precision_recall_curve(truth, probs[:, k])
            ap = average_precision_score(truth, probs[:, k])
            ax.plot(rec, prec, label=f"{name} (AP {ap:.3f}; prevalence {truth.mean():.2f})")
    ax.set(xlabel="recall (sensitivity)", ylabel="precision", title="precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize=8)
    save_figure(fig, path)


def dice_distribution_plot(dice: Sequence[float], path: Path, ids: Sequence[str] | None = None) -> None:
    """Per-patient Dice: histogram (left) and every patient sorted (right), mean and median marked."""
    d = np.asarray(dice, dtype=float)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.hist(d, bins=np.linspace(0, 1, 21), color="tab:blue", edgecolor="white")
    for value, style, name in ((d.mean(), "-", "mean"), (np.median(d), "--", "median")):
        a.axvline(value, color="tab:red", ls=style, label=f"{name} {value:.3f}")
    a.set(xlabel="Dice", ylabel="patients", title=f"per-patient Dice (n={d.size})", xlim=(0, 1))
    a.legend(fontsize=8)
    order = np.argsort(d)
    b.bar(range(d.size), d[order], color="tab:blue")
    b.set(xlabel="patients, sorted", ylabel="Dice", ylim=(0, 1), title="every patient")
    if ids is not None and d.size <= 40:
        b.set_xticks(range(d.size), [str(ids[i])[-12:] for i in order], rotation=90, fontsize=6)
    fig.tight_layout()
    save_figure(fig, path)


def embedding_plot(coords: np.ndarray, labels: Sequence[str], path: Path, title: str = "t-SNE") -> None:
    """2-D embedding scatter, one colour per label."""
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    labels = list(labels)
    for name in sorted(set(labels)):
        m = np.array([lab == name for lab in labels])
        ax.scatter(coords[m, 0], coords[m, 1], s=10, alpha=0.75, label=f"{name} ({int(m.sum())})")
    ax.set(title=title, xticks=[], yticks=[])
    ax.legend(fontsize=8, markerscale=1.5)
    save_figure(fig, path)


def faithfulness_curves_plot(curves: dict[str, tuple[Sequence[float], Sequence[float]]], path: Path) -> None:
    """Mean deletion (left) and insertion (right) curves per method: model score against the fraction of
    pixels removed / inserted, most salient first."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, (deletion, insertion) in curves.items():
        style = ":" if name.startswith("random") else "-"
        a.plot(np.linspace(0, 1, len(deletion)), deletion, style, label=name)
        b.plot(np.linspace(0, 1, len(insertion)), insertion, style, label=name)
    a.set(xlabel="fraction of pixels removed", ylabel="model score", title="deletion (lower = more faithful)")
    b.set(xlabel="fraction of pixels inserted", ylabel="model score", title="insertion (higher = more faithful)")
    a.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def image_panels(panels: Sequence[tuple[np.ndarray, str]], path: Path, title: str = "") -> None:
    """RGB pictures side by side, each with its caption."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.5), squeeze=False)
    for ax, (rgb, caption) in zip(axes[0], panels):
        ax.imshow(rgb)
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def importance_plot(rows: Sequence[dict[str, Any]], path: Path, top: int = 20) -> None:
    """Horizontal bars of feature importance (rows from ``explain.tabular``), with the CI as error bars."""
    rows = list(rows)[:top][::-1]
    imp = np.array([r["importance"] for r in rows])
    err = np.array([[r["importance"] - r["ci95"][0], r["ci95"][1] - r["importance"]] for r in rows]).T
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(rows) + 1.2))
    ax.barh(range(len(rows)), imp, xerr=np.clip(err, 0, None), color="tab:blue")
    ax.set_yticks(range(len(rows)), [r["feature"] for r in rows], fontsize=8)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set(xlabel="drop in score when shuffled", title="permutation importance")
    save_figure(fig, path)



def shap_importance_plot(rows: Sequence[dict[str, Any]], path: Path, top: int = 15) -> None:
    """A classical model's features (``explain.tabular.pipeline_importance`` rows): mean |SHAP| (left) and the
    permutation importance with its 95% range over repeats (right), the ``top`` features by |SHAP|, largest on top."""
    shown = list(rows)[:top][::-1]
    names = [str(r["feature"]) for r in shown]
    imp = np.array([r["importance"] for r in shown])
    err = np.array([[r["importance"] - r["ci95"][0], r["ci95"][1] - r["importance"]] for r in shown]).T
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.32 * len(shown) + 1.4), sharey=True)
    a.barh(names, [r["mean_abs_shap"] for r in shown], color="tab:blue")
    a.set(xlabel="mean |SHAP| (probability)", title="SHAP (validation)")
    a.tick_params(axis="y", labelsize=7)
    b.barh(names, imp, xerr=np.clip(err, 0, None), color="tab:orange")
    b.axvline(0, color="0.4", lw=0.8)
    b.set(xlabel="drop in AUC when shuffled", title="permutation importance (validation)")
    fig.tight_layout()
    save_figure(fig, path)
