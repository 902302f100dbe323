"""The parts of a classifier's model card computed from its runs' JSON files: metric tables, the network
sentence, test-time augmentation, training time and the extra / replication sections."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tumorscope.bundle.publish.render import escape_markdown
from tumorscope.errors import TumorscopeError
from tumorscope.options.describe import COLUMNS, network_label
from tumorscope.results import MetricsReport


def final_lines(cv_dir: Path, cfg: dict[str, Any], first: dict[str, Any], first_cfg: dict[str, Any],
                 stored: dict[str, Any]) -> list[str]:
    """The card's paragraph on a final model (``first`` / ``first_cfg``: its first run's summary and config): what it
    was trained on and what its numbers are."""
    cv_run = Path((cfg.get("ensemble_of") or [cv_dir])[0]) / "fold0"
    cv_cfg = json.loads((cv_run / "config.json").read_text())
    cv_n = json.loads((cv_run / "train_summary.json").read_text())["n_train"]

    def steps(epochs: int, n: int, batch: int) -> int:  # training drops a last batch of one image (BatchNorm)
        return epochs * (n // batch + (n % batch > 1))

    folds = [json.loads(p.read_text()) for p in sorted(cv_dir.glob("fold*/train_summary.json"))]
    n_on = sum(bool(f.get("tta_search", {}).get("tta", f.get("tta_set"))) for f in folds)
    how = ("set with `tumorscope ensemble --tta`" if all("tta_set" in f for f in folds)
           else "chosen on each fold's validation images")
    tta = stored.get("inference", {}).get("tta")
    return [
        f"The bundled weights are **not** a CV fold's: the recipe measured above, retrained on all {first['n_train']} "
        f"deduplicated images (no validation or test part, the last epoch kept; {first_cfg['epochs']} epochs, "
        f"{steps(first_cfg['epochs'], first['n_train'], first_cfg['batch_size'])} optimiser steps, against "
        f"{cv_cfg['epochs']} epochs of {cv_n} images, {steps(cv_cfg['epochs'], cv_n, cv_cfg['batch_size'])} steps, in "
        f"CV fold 0). No held-out image is left for these exact weights: the "
        f"{cfg['folds']}-fold numbers below are the recipe's, each fold trained on the other folds minus a validation "
        "part, i.e. on fewer images than this model - a conservative estimate for it.", "",
        "## Inference", "",
        "Mirror test-time augmentation (the image and its left-right mirror, probabilities averaged): the bundled "
        f"model, which has no validation images, has it **{'on' if tta else 'off'}**; in the CV below it was {how}, "
        f"on in {n_on} of {len(folds)} folds. `--tta` / `--no-tta` override it.", "",
    ]


def model_summary(model: str) -> str:
    from tumorscope.models import describe_models

    return next((m.summary for m in describe_models("classification") if m.name == model), model)


def metric_rows(pooled: dict[str, Any], folds: dict[str, Any] | None) -> list[str]:
    """Metric table rows; the 'over folds' column only for a CV (``folds`` given)."""
    rows = (["| metric | pooled held-out [95% CI] | mean ± sd over folds |", "|---|---|---|"] if folds is not None
            else ["| metric | value [95% CI] |", "|---|---|"])
    keys = [*(k for _, k in COLUMNS), "balanced_accuracy", "specificity_macro", "ece"]
    names = {k: n for n, k in COLUMNS} | {"precision_macro": "Precision (macro)", "sensitivity_macro": "Recall / sensitivity (macro)",
                                         "f1_macro": "F1 (macro)", "auc_macro": "AUC (macro, one-vs-rest)"}
    for k in keys:
        row = f"| {names.get(k, k.replace('_', ' '))} | {ci_cell(pooled, k)} |"
        if folds is not None:
            f = folds.get(k)
            row += (f" {f['mean']:.3f} ± {f['sd']:.3f}" if f else " -") + " |"
        rows.append(row)
    return rows


def tta_lines(cv_dir: Path, fold: int) -> list[str]:
    """How mirror test-time augmentation was chosen per fold (ensembles choose it on their validation images)."""
    searches = {int(p.parent.name[4:]): json.loads(p.read_text()).get("tta_search")
                for p in cv_dir.glob("fold*/train_summary.json")}
    if not any(searches.values()):
        return []
    chosen = searches.get(fold) or {"tta": False, "validation": {}}
    val = chosen["validation"]
    scores = (f" (validation score off {val['off']['score']:.4f}, on {val['on']['score']:.4f})" if val else "")
    n_on = sum(bool(s and s["tta"]) for s in searches.values())
    return ["## Inference", "",
            "Mirror test-time augmentation (the image and its left-right mirror, probabilities averaged) is switched "
            f"on or off by each fold's validation images, never its test images: on in {n_on} of {len(searches)} "
            f"folds. The bundled fold-{fold} model has it **{'on' if chosen['tta'] else 'off'}**{scores}; "
            "`--tta` / `--no-tta` override it. The held-out numbers below use each fold's own choice.", ""]


def network_sentence(nets: list[dict[str, Any]], seeds: list[int], origin: str) -> str:
    """The card's first sentence on the network(s): one network, an ensemble of one kind of network (seeds
    listed), or an ensemble of several kinds, each with its seeds and input size."""
    def network(n: dict[str, Any]) -> str:
        return f"`{n['model']}` ({model_summary(n['model'])}) with width {n['width']}, input {n['size']}x{n['size']}"

    first = nets[0]
    look = f"{first['channels']}{', each image first cropped to its foreground box' if first.get('crop') == 'foreground' else ''}"
    kinds = list(dict.fromkeys(network_label(n) for n in nets))
    if len(kinds) == 1:
        line = f"Network: {network(first)} ({look}), {origin}."
        if len(nets) > 1:
            line += (f" An ensemble of {len(nets)} such networks (seeds {', '.join(map(str, seeds))}, the same "
                     "splits) whose class probabilities are averaged.")
        return line
    groups = []
    for kind in kinds:
        idx = [i for i, n in enumerate(nets) if network_label(n) == kind]
        groups.append(f"{len(idx)} x {network(nets[idx[0]])} "
                      f"(seed{'s' * (len(idx) > 1)} {', '.join(str(seeds[i]) for i in idx)})")
    largest = max(n["size"] for n in nets)
    return (f"Networks: an ensemble of {len(nets)} networks on the same splits whose class probabilities are "
            f"averaged: {'; '.join(groups)}; all {look}, {origin}. The ensemble reads each image at "
            f"{largest}x{largest} and a smaller member resizes it to its own input (antialiased, as the "
            "preprocessing resizes).")


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def two_core_minutes(job_seconds: list[float]) -> float:
    """Wall-clock minutes of one-thread jobs run two at a time, longest first (each job's time as measured)."""
    cores = [0.0, 0.0]
    for t in sorted(job_seconds, reverse=True):
        cores[cores.index(min(cores))] += t
    return max(cores) / 60


def from_scratch_line(bundled_seconds: float, member_seconds: list[float], pretrained: dict[str, Any] | None) -> str:
    """The card's sentence on the issue's budget: the bundled model from scratch within 60 minutes on 2 cores."""
    if pretrained:
        total = (pretrained["summary"]["train_seconds"] + bundled_seconds) / 60
        return (f" Plus the one-off self-supervised pretraining: {pretrained['summary']['train_seconds'] / 60:.1f} min "
                f"({pretrained['summary']['epochs_run']} epochs); from scratch in total {total:.1f} min for the "
                "bundled model.")
    if len(member_seconds) > 1:
        wall = two_core_minutes(member_seconds)
        return (f" Its {len(member_seconds)} networks train independently, one thread each, two at a time on the 2 "
                f"cores: {wall:.1f} min wall clock from scratch, "
                + ("within" if wall <= 60 else "over") + " 60 minutes on 2 cores.")
    return " " + ("Within" if bundled_seconds <= 3600 else "Over") + " 60 minutes on 2 cores."


def compute_phrase(summary: dict[str, Any]) -> str:
    """How the bundled run computed, from its train summary (runs before this was recorded: bf16 autocast)."""
    cpu = summary.get("cpu")
    if not cpu:
        return "bf16 autocast"
    dtype = "bf16 autocast" if summary.get("compute_dtype") == "bfloat16" else "float32"
    native = "with" if cpu.get("native_bf16") else "without"
    return (f"{dtype}; {cpu.get('processor')}, {native} native bfloat16 - times scale with the CPU: "
            "`python bench/precision.py` measures yours")


def ci_cell(m: dict[str, Any], key: str) -> str:
    """``0.950 [0.937, 0.962]``: a metric of a results file with its CI, read through the results schema."""
    est = MetricsReport.from_json(m).estimate(key)
    if est is None:
        raise TumorscopeError(f"no {key!r} in these results")
    return est.format()


def storage_line(stored: str, measured: str) -> str:
    how = {"float32": "float32", "float16": "float16 (computed in float32/bf16)",
           "int8": "int8 with one float32 scale per output channel (the 1-D norm and bias tensors as float16), "
                   "turned back into float32 on loading"}[stored]
    if stored == measured:
        return f"Weights stored as {how}; every held-out number below was measured with these same stored weights."
    return (f"Weights stored as {how}; the held-out numbers below were measured with the {measured} weights "
            "of the CV run, not re-measured after this rounding.")


def extra_section(label: str, path: Path) -> tuple[list[str], str, float]:
    """Card lines, headline key and accuracy for an extra result: an evaluation (folder with metrics.json, or the file), or a CV
    folder (cv_summary.json) of the same recipe with other networks, e.g. new seeds - shown as a replication."""
    if path.is_dir() and (path / "cv_summary.json").exists():
        cv = json.loads((path / "cv_summary.json").read_text())
        m = cv["pooled"]
        return [f"## Replication: {escape_markdown(label)}", "",
                f"The recipe cross-validated again with other networks ({cv['folds_done']} folds, n = {m['n']} held-out "
                f"images, `{path}`): pooled held-out results and mean ± sd over folds.", "",
                *metric_rows(m, cv.get("across_folds") or {}), ""], "replication_accuracy", m["accuracy"]
    m = json.loads((path / "metrics.json").read_text() if path.is_dir() else path.read_text())
    return [f"## Extra held-out check: {escape_markdown(label)}", "",
            f"n = {m['n']} images ({m.get('excluded_seen_in_training', 0)} more were left out as (near-)copies "
            "of this model's training/validation images).", "",
            *metric_rows(m, None), ""], f"{slug(label)}_accuracy", m["accuracy"]
