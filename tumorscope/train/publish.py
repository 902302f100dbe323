"""Turn a cross-validated classification recipe into a bundled (zoo) model with its model card.

The bundled network is one fold's model of the CV (fold 0 unless ``--fold``): it was trained on the other
folds, so its own test fold is a true hold-out, and the card's numbers are the pooled held-out results of
all folds of the same recipe.

    python -m tumorscope.train.publish brain-mri-tumor-type runs/cls/brain_resnet18_cv \\
        --extra "Testing/ folder"=runs/cls/brain_testing_eval

With ``--final RUN`` the bundled network is instead the recipe retrained on every image (``tumorscope train
--val-fraction 0``, an ensemble of such runs with ``tumorscope ensemble --tta``): the card keeps the CV's numbers
as the recipe's measured (conservative) estimate and says that no held-out image is left for those weights.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.bundle.bundle import ZOO, smallest_dtype_that_fits
from tumorscope.data.locate import shared_dataset
from tumorscope.data.splits import split_command
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.compare import COLUMNS, describe, network_label, run_config
from tumorscope.train.config import PRETRAIN_SUMMARY, is_pretrain_run

# What each bundled classifier is, where its data comes from, and what the seeds reported on that data.
RECIPES: dict[str, dict[str, Any]] = {
    "brain-mri-tumor-type": {
        "title": "Brain MRI tumour type: glioma / meningioma / no tumour / pituitary",
        "dataset": "brain_tumor_mri_4class",
        "data_arg": "../shared/data/brain_tumor_mri_4class",
        "references": [
            "Brain 4-class papers on this Kaggle set report 98-99% accuracy, with image-level splits over a set "
            "that holds 300 groups of pixel-identical images (13 of them across Training/Testing in this subset): "
            "those numbers include leakage.",
        ],
    },
    "breast-us-lesion": {
        "title": "Breast ultrasound lesion: benign / malignant / normal (BUSI)",
        "dataset": "busi",
        "data_arg": "../shared/data/busi",
        "references": [
            "Seed: ResNet-18, 5-fold CV on BUSI (780 images): accuracy 0.884.",
            "Seed: DenseNet ensemble AUC 0.94 in-domain, 0.776 on an external set.",
        ],
    },
    "colon-histo-tumor": {
        "title": "Colon histopathology: adenocarcinoma (colon_aca) / benign tissue (colon_n), LC25000",
        "dataset": "histopathology",
        "data_arg": "../shared/data/histopathology",
        "references": [
            "Seeds report ~99-100% accuracy on LC25000; its 5,000 tiles per class are rotations/flips of ~250 "
            "originals, so image-level splits leak augmented siblings.",
        ],
    },
}


def _source_lines(dataset: str) -> list[str]:
    """The dataset's citation and licence lines from its SOURCE.md (when the shared data is present)."""
    root = shared_dataset(dataset)
    if root is None or not (root / "SOURCE.md").exists():
        return [f"(SOURCE.md of `{dataset}` not found)"]
    keep = ("**Original dataset:**", "**Citation:**", "**License:**", "**Taken from:**")
    return [line.strip() for line in (root / "SOURCE.md").read_text().splitlines()
            if line.strip().startswith(keep) and line.strip() not in keep]  # a label whose text is on later lines: left out


_DEFAULTS = {"freeze": 0, "loss": "dicece", "class_weights": "none", "sampler": "auto", "seed": 0, "ema": 0.0,
             "precise_bn": False, "label_smoothing": 0.0, "mixup": 0.0, "crop": "none"}
_BEFORE_IT_EXISTED = {"keep": "best"}  # what a config saved before the option existed did (always printed: its default changed)


def _flag(key: str, value: Any) -> str:
    """One command-line option for a config value (a time limit in minutes, a switch bare)."""
    if value is True:
        return f"--{key.replace('_', '-')}"
    return f"--{key.replace('_', '-')} " + (f"{int(value / 60)}m" if key == "time_limit" else f"{value}")


def _flags(cfg: dict[str, Any], data_arg: str, skip: tuple[str, ...] = ()) -> str:
    """The options that reproduce ``cfg`` (defaults left out)."""
    flags = ["--task classification", f"--data {data_arg}", f"--model {cfg['model']}"]
    for key in ("width", "size", "channels", "crop", "augment", "epochs", "patience", "batch_size", "lr", "val_fraction",
                "folds", "seed", "loss", "label_smoothing", "mixup", "ema", "keep", "precise_bn", "class_weights", "sampler", "init", "freeze",
                "time_limit", "threads", "splits"):
        v = cfg.get(key, _BEFORE_IT_EXISTED.get(key))
        if key not in skip and v is not None and v != "" and v != _DEFAULTS.get(key):
            flags.append(_flag(key, v))
    return " ".join(flags)


def _command(cfg: dict[str, Any], data_arg: str, out: str) -> str:
    """The ``tumorscope cv`` command line that reproduces ``cfg``."""
    return f"tumorscope cv {_flags(cfg, data_arg)} --out {out}"


def _pretrain_run(init: str | None) -> dict[str, Any] | None:
    """The config and summary of a ``tumorscope pretrain`` run used as ``--init``, if it is one."""
    if init is None or not is_pretrain_run(init):
        return None
    return {"config": json.loads((Path(init) / "config.json").read_text()),
            "summary": json.loads((Path(init) / PRETRAIN_SUMMARY).read_text()), "path": init}


def _pretrain_command(run: dict[str, Any]) -> str:
    c = run["config"]
    flags = [f"--data {' '.join(c['data'])}"] + [
        _flag(k, c[k]) for k in ("model", "width", "size", "channels", "epochs", "batch_size", "lr", "temperature",
                                 "time_limit", "seed", "threads") if c.get(k) is not None]
    return f"tumorscope pretrain {' '.join(flags)} --out {run['path']}"


def _pretraining_data_lines(run: dict[str, Any]) -> list[str]:
    """The self-supervised pretraining data's sources and licences: the weights derive from those images too."""
    lines = ["Self-supervised pretraining data (images only, no labels or masks used):", ""]
    for folder in run["config"]["data"]:
        lines += [f"- `{Path(folder).name}`:", *(f"  - {s}" for s in _source_lines(Path(folder).name))]
    return [*lines, "", "The weights derive from the pretraining images as well, so their licence terms apply to "
            "these weights too (a CC BY-NC-SA source makes them non-commercial, shared alike).", ""]


def _commands(cv_dir: Path, cfg: dict[str, Any], first: dict[str, Any], data_arg: str,
              pretrained: dict[str, Any] | None) -> list[str]:
    """The commands behind a CV folder (``first``: the config of its first member, or its own): the
    self-supervised pretraining if it started from one, then one ``tumorscope cv``, or for an ensembled CV the
    first member's CV, the other members trained fold by fold on its splits, and ``tumorscope ensemble --cv``."""
    members = cfg.get("ensemble_of")
    lines = [_pretrain_command(pretrained)] if pretrained else []
    made_by = split_command(first["splits"]) if first.get("splits") else None
    lines += [made_by] if made_by else []  # the shared split file the CV read, where its command was recorded
    if not members:
        return [*lines, _command(cfg, data_arg, str(cv_dir))]
    lines.append(_command(first, data_arg, members[0]))
    for m in members[1:]:
        mcfg = json.loads((Path(m) / "fold0" / "config.json").read_text())
        lines += [f"for f in {' '.join(str(i) for i in range(cfg['folds']))}; do",
                  f"  tumorscope train {_flags(mcfg, data_arg, skip=('folds', 'time_limit', 'splits'))} "
                  f"--splits {members[0]}/fold$f/splits.json --out {m}/fold$f", "done"]
    return [*lines, f"tumorscope ensemble --cv {' '.join(members)} {_ensemble_options(cv_dir / 'fold0')}--out {cv_dir}"]


def _ensemble_options(run: Path) -> str:
    """The `tumorscope ensemble` options that made the ensemble in ``run`` (from its summary and stored bundle)."""
    summary = json.loads((run / "train_summary.json").read_text())
    stored = json.loads((run / "bundle" / "config.json").read_text())
    return ("--calibrate " if "temperature" in stored["model"].get("options", {}) else "") + (
        f"--tta {'on' if summary['tta_set'] else 'off'} " if "tta_set" in summary else "") + (
        f"--weights {stored['weights_dtype']} " if stored.get("weights_dtype") else "")


def _final_commands(final: Path, runs: list[Path], cfgs: list[dict[str, Any]], data_arg: str) -> list[str]:
    """The commands that train ``final`` (one run, or the ensemble of ``runs`` with configs ``cfgs``) on every image."""
    lines = ["# the bundled model: the same recipe on every image, no validation part, last epoch kept"]
    lines += [f"tumorscope train {_flags(c, data_arg, skip=('folds', 'time_limit', 'splits', 'keep'))} --out {r}"
              for r, c in zip(runs, cfgs)]
    if runs != [final]:
        lines.append(f"tumorscope ensemble {' '.join(map(str, runs))} {_ensemble_options(final)}--out {final}")
    return lines


def _final_lines(cv_dir: Path, cfg: dict[str, Any], first: dict[str, Any], first_cfg: dict[str, Any],
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


def _summary(model: str) -> str:
    from tumorscope.models import describe_models

    return next((m.summary for m in describe_models("classification") if m.name == model), model)


def _metric_rows(pooled: dict[str, Any], folds: dict[str, Any] | None) -> list[str]:
    """Metric table rows; the 'over folds' column only for a CV (``folds`` given)."""
    rows = (["| metric | pooled held-out [95% CI] | mean ± sd over folds |", "|---|---|---|"] if folds is not None
            else ["| metric | value [95% CI] |", "|---|---|"])
    keys = [*(k for _, k in COLUMNS), "balanced_accuracy", "specificity_macro", "ece"]
    names = {k: n for n, k in COLUMNS} | {"precision_macro": "Precision (macro)", "sensitivity_macro": "Recall / sensitivity (macro)",
                                         "f1_macro": "F1 (macro)", "auc_macro": "AUC (macro, one-vs-rest)"}
    for k in keys:
        row = f"| {names.get(k, k.replace('_', ' '))} | {_ci_cell(pooled, k)} |"
        if folds is not None:
            f = folds.get(k)
            row += (f" {f['mean']:.3f} ± {f['sd']:.3f}" if f else " -") + " |"
        rows.append(row)
    return rows


def _tta_lines(cv_dir: Path, fold: int) -> list[str]:
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


def _network_sentence(nets: list[dict[str, Any]], seeds: list[int], origin: str) -> str:
    """The card's first sentence on the network(s): one network, an ensemble of one kind of network (seeds
    listed), or an ensemble of several kinds, each with its seeds and input size."""
    def network(n: dict[str, Any]) -> str:
        return f"`{n['model']}` ({_summary(n['model'])}) with width {n['width']}, input {n['size']}x{n['size']}"

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


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def two_core_minutes(job_seconds: list[float]) -> float:
    """Wall-clock minutes of one-thread jobs run two at a time, longest first (each job's time as measured)."""
    cores = [0.0, 0.0]
    for t in sorted(job_seconds, reverse=True):
        cores[cores.index(min(cores))] += t
    return max(cores) / 60


def _from_scratch_line(bundled_seconds: float, member_seconds: list[float], pretrained: dict[str, Any] | None) -> str:
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


def _compute_phrase(summary: dict[str, Any]) -> str:
    """How the bundled run computed, from its train summary (runs before this was recorded: bf16 autocast)."""
    cpu = summary.get("cpu")
    if not cpu:
        return "bf16 autocast"
    dtype = "bf16 autocast" if summary.get("compute_dtype") == "bfloat16" else "float32"
    native = "with" if cpu.get("native_bf16") else "without"
    return (f"{dtype}; {cpu.get('processor')}, {native} native bfloat16 - times scale with the CPU: "
            "`python bench/precision.py` measures yours")


def _ci_cell(m: dict[str, Any], key: str) -> str:
    ci = m.get("ci95", {}).get(key)
    return f"{m[key]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _storage_line(stored: str, measured: str) -> str:
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
        return [f"## Replication: {label}", "",
                f"The recipe cross-validated again with other networks ({cv['folds_done']} folds, n = {m['n']} held-out "
                f"images, `{path}`): pooled held-out results and mean ± sd over folds.", "",
                *_metric_rows(m, cv.get("across_folds") or {}), ""], "replication_accuracy", m["accuracy"]
    m = json.loads((path / "metrics.json").read_text() if path.is_dir() else path.read_text())
    return [f"## Extra held-out check: {label}", "",
            f"n = {m['n']} images ({m.get('excluded_seen_in_training', 0)} more were left out as (near-)copies "
            "of this model's training/validation images).", "",
            *_metric_rows(m, None), ""], f"{_slug(label)}_accuracy", m["accuracy"]


def model_card(name: str, cv_dir: Path, extras: dict[str, Path], fold: int = 0,
               weights_dtype: str | None = None, final: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(card.md text, headline metrics) for a zoo model from its CV folder and extra evaluations;
    ``weights_dtype``: how the zoo bundle stores its weights (default: as the fold's bundle does); ``final``: the
    bundled model is that run trained on every image, not fold ``fold``'s."""
    recipe = RECIPES[name]
    cv = json.loads((cv_dir / "cv_summary.json").read_text())
    cfg = json.loads((cv_dir / "cv_config.json").read_text())
    members = cfg.get("ensemble_of") or []
    nets = [run_config(Path(m)) for m in members] or [cfg]  # one per member (the run itself when not an ensemble)
    net = nets[0]
    bundled_dir = final or cv_dir / f"fold{fold}"
    bundled = json.loads((bundled_dir / "train_summary.json").read_text())
    bundled_members = [Path(m) for m in bundled.get("members", [])] if final else [Path(m) / f"fold{fold}" for m in members]
    member_summaries = [json.loads((m / "train_summary.json").read_text()) for m in bundled_members]
    first_member = member_summaries[0] if member_summaries else bundled
    fold_cfgs = [json.loads((m / "config.json").read_text()) for m in bundled_members or [bundled_dir]]
    pooled, folds = cv["pooled"], cv["across_folds"]
    stored = json.loads((bundled_dir / "bundle" / "config.json").read_text())  # the bundled model's bundle
    measured = stored.get("weights_dtype", "float32")
    times = [json.loads(p.read_text())["train_seconds"] for p in sorted(cv_dir.glob("fold*/train_summary.json"))]
    dedup = first_member.get("dedup", {})
    seeds = [c["seed"] for c in fold_cfgs] if members else []
    member_seconds = [s["train_seconds"] for s in member_summaries]
    pretrained = _pretrain_run(net.get("init"))
    if pretrained:
        origin = (f"initialised from the self-supervised (contrastive, no labels) encoder `{pretrained['path']}`, "
                  f"pretrained on {', '.join(Path(d).name for d in pretrained['config']['data'])} "
                  f"({pretrained['summary']['n_images']} images, none of this dataset's), then fine-tuned")
    else:
        origin = "trained " + ("from " + Path(net["init"]).name if net.get("init") else "from scratch")
    lines = [
        f"# {name}", "", recipe["title"], "",
        f"{_network_sentence(nets, seeds, origin)} "
        f"Recipe: {describe({'path': str(cv_dir), 'config': net})[1]}. Classes: {', '.join(pooled['classes'])}.",
        "", "## Data", "", *(f"- {s}" for s in _source_lines(recipe["dataset"])), "",
        *(_pretraining_data_lines(pretrained) if pretrained else []),
        "## How it was trained (exact commands)", "", "```",
        *_commands(cv_dir, cfg, net, recipe["data_arg"], pretrained),
        *(_final_commands(final, bundled_members or [final], fold_cfgs, recipe["data_arg"]) if final else []), "```", "",
        *(_final_lines(cv_dir, cfg, first_member, fold_cfgs[0], stored) if final else [
            f"The bundled weights are the model of fold {fold} of that cross-validation (trained on the other folds "
            f"minus a validation part for model selection); `tumorscope train ... --fold {fold}` with the same options "
            "makes it alone" + (", once per seed, then `tumorscope ensemble`." if members else ".") + " "
            + _storage_line(weights_dtype or measured, measured), "", *_tta_lines(cv_dir, fold)]),
        "## Deduplication (before splitting)", "",
        f"The leakage audit found {dedup.get('exact_duplicate_groups', 0)} exact-duplicate groups and "
        f"{dedup.get('near_duplicate_groups', 0)} near-duplicate groups (phash incl. flips/rotations, "
        f"<= {dedup.get('near_threshold', 4)} bits): {dedup.get('dropped_exact_copies', 0)} exact copies and "
        f"{dedup.get('dropped_label_conflicts', 0)} images in label-conflicting groups were dropped, and "
        f"{dedup.get('images_in_merged_groups', 0)} images in {dedup.get('merged_groups', 0)} duplicate groups were "
        f"kept together in one split part. {dedup.get('n_images_before')} -> {dedup.get('n_images_after')} images.",
        "",
        f"## Cross-validated results ({cv['folds_done']}-fold, deduplicated, n = {pooled['n']} held-out images)", "",
        *_metric_rows(pooled, folds), "",
        f"CIs: percentile bootstrap over {pooled['ci_unit']}, {pooled['n_boot']} resamples, of the pooled held-out "
        "predictions. Per class (pooled):", "",
        "| class | sensitivity | specificity | precision | F1 | AUC |", "|---|---|---|---|---|---|",
        *(f"| {c} | " + " | ".join("-" if v[k] is None else f"{v[k]:.3f}"
                                   for k in ("sensitivity", "specificity", "precision", "f1", "auc")) + " |"
          for c, v in pooled["per_class"].items()),
        "",
    ]
    headline: dict[str, Any] = {"cv_accuracy": round(pooled["accuracy"], 3), "cv_auc_macro": round(pooled["auc_macro"], 3),
                                "cv_n": pooled["n"]}
    by_source = cv.get("pooled_by_source") or {}
    if by_source:
        lines += ["### The same held-out predictions by source folder", "",
                  "Each image is scored by the fold model that never saw it, as above, split by the dataset's own "
                  "folder it came from:", "",
                  "| source | n | accuracy [95% CI] | balanced accuracy | AUC (macro) [95% CI] |", "|---|---|---|---|---|",
                  *(f"| `{src}/` | {m['n']} | {_ci_cell(m, 'accuracy')} | {m['balanced_accuracy']:.3f} | "
                    f"{_ci_cell(m, 'auc_macro')} |" for src, m in by_source.items()), ""]
        for src, m in by_source.items():
            headline[f"cv_{_slug(src)}_accuracy"] = round(m["accuracy"], 3)
    for label, path in extras.items():
        section, key, accuracy = extra_section(label, path)
        lines += section
        headline[key] = round(accuracy, 3)
    lines += [
        "## What the seeds reported on this data", "", *(f"- {r}" for r in recipe["references"]), "",
        "## Training time", "",
        f"{sum(times) / len(times) / 60:.1f} min per fold on average ({min(times) / 60:.1f}-{max(times) / 60:.1f}"
        + (f", all {len(members)} members together" if members else "")
        + f"; {'the bundled model on every image' if final else f'fold {fold}, the bundled model'}: "
        f"{bundled['train_seconds'] / 60:.1f} min" + ("" if bundled_members else f", {bundled['epochs_run']} epochs, best at "
                                                     f"epoch {bundled['best_epoch']}")
        + f"), CPU with {fold_cfgs[0].get('threads') or 'all'} torch thread(s) on a 2-core machine shared with other training "
        f"jobs ({_compute_phrase(first_member)})." + _from_scratch_line(bundled["train_seconds"], member_seconds, pretrained),
        "", "## Limitations", "",
        "- One developer subset of a public dataset; no external validation set. No patient ids, so images of one "
        "patient may sit in both training and test folds (only duplicates found by the audit are kept together).",
        "- Research use only: not a medical device.",
        "",
    ]
    return "\n".join(lines), headline


def publish(name: str, cv_dir: str | Path, extras: dict[str, Path] | None = None, zoo: Path = ZOO,
            fold: int = 0, final: str | Path | None = None) -> Path:
    """Write ``zoo/<name>/`` (weights of one CV fold's model, or of ``final``: the recipe trained on every image;
    config with ``headline_metrics``, card.md)."""
    if name not in RECIPES:
        raise TumorscopeError(f"unknown zoo model {name!r}; known: {', '.join(RECIPES)}")
    cv_dir = Path(cv_dir)
    final = Path(final) if final else None
    src = load_bundle(final or cv_dir / f"fold{fold}")
    # the zoo's limit is 20 MiB a bundle; config, card and torch.save's framing take well under 1 MiB
    dtype = smallest_dtype_that_fits(src.model, 19 * 2**20)
    card, headline = model_card(name, cv_dir, extras or {}, fold, dtype, final)
    config = {k: v for k, v in src.config.items() if k not in ("format_version", "weights_sha256")}
    config.update(name=name, headline_metrics=headline)
    out = zoo / name
    save_bundle(out, src.model, config, card=card, weights_dtype=dtype)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(RECIPES))
    p.add_argument("cv_dir", type=Path)
    p.add_argument("--fold", type=int, default=0, help="which fold's model to bundle")
    p.add_argument("--extra", nargs="*", default=[], metavar="LABEL=EVAL_DIR", help="extra results for the card: an evaluation folder (metrics.json) or another CV of the recipe (a replication)")
    p.add_argument("--final", type=Path, metavar="RUN", help="bundle this run (or ensemble) of the recipe trained on "
                   "every image (--val-fraction 0) instead of a CV fold's model")
    args = p.parse_args(argv)
    extras = dict((label, Path(path)) for label, path in (e.split("=", 1) for e in args.extra))
    out = publish(args.name, args.cv_dir, extras, fold=args.fold, final=args.final)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
