"""What a model did on a set of evaluation cases, gathered for the report: per-case scores, penultimate
embeddings (for t-SNE) and the best / median / worst cases with their inputs (for the gallery)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tumorscope.data.volumes import SliceStack
from tumorscope.explain.layers import embeddings
from tumorscope.progress import progress


@dataclass
class Case:
    """One gallery candidate: the slice/image to show, its masks, and how well the model did (``score``)."""

    id: str
    score: float
    caption: str
    image: np.ndarray  # (Y, X, C) raw pixels
    x: torch.Tensor  # (C, S, S) network input
    truth: np.ndarray | None = None  # (Y, X) ground-truth mask
    pred: np.ndarray | None = None  # (Y, X) predicted mask


@dataclass
class Evidence:
    task: str
    classes: list[str]
    y_true: np.ndarray  # (N,) class index per scored unit (segmentation: slice, 1 = tumor)
    probs: np.ndarray  # (N, K) probabilities per class (segmentation: [no tumor, tumor] from the max probability)
    patients: list[Any] = field(default_factory=list)  # segmentation: PatientResult per volume
    features: np.ndarray | None = None  # (M, F) penultimate embeddings of a subsample
    feature_labels: list[str] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)  # sorted by score, worst first


def _subsample(n: int, limit: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, limit)).astype(int)) if n > limit else np.arange(n)


def segmentation_evidence(bundle: Any, stacks: list[SliceStack], max_embed: int = 800) -> Evidence:
    """Predict every volume, score it per patient, embed every slice (bottleneck features, pooled)."""
    from tumorscope.evaluate.segmentation import score_patient
    from tumorscope.predict.segmentation import predict_probabilities

    model, pre, post = bundle.model, bundle.preprocessor, bundle.postprocess
    results, feats, labels, cases = [], [], [], []
    for stack in progress(stacks, desc="predicting", total=len(stacks)):
        prob = predict_probabilities(model, pre, stack.images, tta=post.tta)
        res = score_patient(stack, prob, post)
        results.append(res)
        x = pre.tensor(stack.images, stack.id)
        feats.append(embeddings(model, x, "segmentation")[0].numpy())
        labels += ["tumor" if t else "no tumor" for t in res.slice_truth]
        if res.truth_voxels > 0 and stack.masks is not None:
            k = int(stack.masks.reshape(stack.n_slices, -1).sum(1).argmax())
            cases.append(Case(res.id, res.dice, f"{res.id}, slice {k + 1}: Dice {res.dice:.3f}", stack.images[k], x[k],
                              stack.masks[k], post(prob)[k]))
    truth = np.concatenate([r.slice_truth for r in results]).astype(int) if results else np.zeros(0, int)
    score = np.concatenate([r.slice_score for r in results]) if results else np.zeros(0)
    all_feats = np.concatenate(feats) if feats else np.zeros((0, 0))
    keep = _subsample(len(all_feats), max_embed)
    return Evidence(
        "segmentation", ["no tumor", "tumor"], truth, np.stack([1 - score, score], axis=1), results,
        all_feats[keep], [labels[i] for i in keep], sorted(cases, key=lambda c: c.score),
    )


def classification_evidence(
    bundle: Any, paths: Sequence[str | Path], labels: Sequence[str], probs: np.ndarray | None = None,
    max_embed: int = 800,
) -> Evidence:
    """Probabilities (given, e.g. from metrics.json, or predicted here), embeddings of a subsample and
    the gallery candidates ranked by the probability given to the true class."""
    from tumorscope.predict.classify import image_array, image_tensor, predict_files

    classes = bundle.classes
    files = [Path(p) for p in paths]
    if probs is None:
        probs = predict_files(bundle, files, desc="predicting").probs
    y = np.array([classes.index(lab) for lab in labels], dtype=int)
    true_p = probs[np.arange(len(y)), y] if len(y) else np.zeros(0)
    model, pre = bundle.model, bundle.preprocessor
    keep = _subsample(len(files), max_embed)
    order = np.argsort(true_p)
    shown = {int(order[i]) for i in (0, len(order) // 2, len(order) - 1)} if len(order) else set()
    keep_set = set(keep.tolist())
    todo = sorted(keep_set | shown)
    feats, cases = [], []
    for start in progress(range(0, len(todo), 32), desc="embedding", total=(len(todo) + 31) // 32):
        chunk = todo[start : start + 32]
        arrays = [image_array(files[i]) for i in chunk]
        x = torch.stack([image_tensor(pre, a, files[i]) for a, i in zip(arrays, chunk)])
        f = embeddings(model, x, "classification")[0].numpy()
        feats += [f[j] for j, i in enumerate(chunk) if i in keep_set]
        for j, i in enumerate(chunk):
            if i in shown:
                pred = classes[int(probs[i].argmax())]
                caption = f"{files[i].name}: true {labels[i]}, predicted {pred} (p={probs[i].max():.2f})"
                cases.append(Case(files[i].name, float(true_p[i]), caption, arrays[j], x[j]))
    return Evidence(
        "classification", list(classes), y, np.asarray(probs), [], np.stack(feats) if feats else None,
        [labels[i] for i in keep], sorted(cases, key=lambda c: c.score),
    )


def gallery(cases: list[Case]) -> list[tuple[str, Case]]:
    """Worst, median and best of ``cases`` (already sorted worst first), without repeats."""
    if not cases:
        return []
    picks = [("worst", 0), ("median", len(cases) // 2), ("best", len(cases) - 1)]
    seen: set[int] = set()
    out = []
    for name, i in picks:
        if i not in seen:
            seen.add(i)
            out.append((name, cases[i]))
    return out


def tsne_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, F) -> (N, 2) t-SNE coordinates (scikit-learn; PCA initialisation, perplexity <= 30)."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(features) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        np.asarray(features, dtype=np.float32)
    )
