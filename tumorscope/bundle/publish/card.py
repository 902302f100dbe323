"""A classifier's model card (``templates/classification_card.md.j2``) and headline metrics from its CV folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from markupsafe import Markup

from tumorscope.bundle.publish.commands import cv_commands, final_commands, pretrain_run
from tumorscope.bundle.publish.recipes import RECIPES, pretraining_data_lines, source_lines
from tumorscope.bundle.publish.render import lines, render, trusted
from tumorscope.bundle.publish.sections import (
    ci_cell,
    compute_phrase,
    extra_section,
    final_lines,
    from_scratch_line,
    metric_rows,
    network_sentence,
    slug,
    storage_line,
    tta_lines,
)
from tumorscope.options.describe import describe, run_config


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _block(items: list[str]) -> Markup:
    """Trusted card lines that end a section (a blank line after them), or nothing."""
    return Markup("\n".join(items) + "\n") if items else Markup("")


def _origin(net: dict[str, Any], pretrained: dict[str, Any] | None) -> str:
    if pretrained:
        return (f"initialised from the self-supervised (contrastive, no labels) encoder `{pretrained['path']}`, "
                f"pretrained on {', '.join(Path(d).name for d in pretrained['config']['data'])} "
                f"({pretrained['summary']['n_images']} images, none of this dataset's), then fine-tuned")
    return "trained " + ("from " + Path(net["init"]).name if net.get("init") else "from scratch")


def _by_source(cv: dict[str, Any], headline: dict[str, Any]) -> list[str]:
    by_source = cv.get("pooled_by_source") or {}
    if not by_source:
        return []
    for src, m in by_source.items():
        headline[f"cv_{slug(src)}_accuracy"] = round(m["accuracy"], 3)
    return ["### The same held-out predictions by source folder", "",
            "Each image is scored by the fold model that never saw it, as above, split by the dataset's own "
            "folder it came from:", "",
            "| source | n | accuracy [95% CI] | balanced accuracy | AUC (macro) [95% CI] |", "|---|---|---|---|---|",
            *(f"| `{src}/` | {m['n']} | {ci_cell(m, 'accuracy')} | {m['balanced_accuracy']:.3f} | "
              f"{ci_cell(m, 'auc_macro')} |" for src, m in by_source.items()), ""]


def model_card(name: str, cv_dir: Path, extras: dict[str, Path], fold: int = 0,
               weights_dtype: str | None = None, final: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(card.md text, headline metrics) for a zoo model from its CV folder and extra evaluations;
    ``weights_dtype``: how the zoo bundle stores its weights (default: as the fold's bundle does); ``final``: the
    bundled model is that run trained on every image, not fold ``fold``'s."""
    recipe = RECIPES[name]
    cv = _read(cv_dir / "cv_summary.json")
    cfg = _read(cv_dir / "cv_config.json")
    members = cfg.get("ensemble_of") or []
    nets = [run_config(Path(m)) for m in members] or [cfg]  # one per member (the run itself when not an ensemble)
    net = nets[0]
    bundled_dir = final or cv_dir / f"fold{fold}"
    bundled = _read(bundled_dir / "train_summary.json")
    bundled_members = [Path(m) for m in bundled.get("members", [])] if final else [Path(m) / f"fold{fold}" for m in members]
    member_summaries = [_read(m / "train_summary.json") for m in bundled_members]
    first_member = member_summaries[0] if member_summaries else bundled
    fold_cfgs = [_read(m / "config.json") for m in bundled_members or [bundled_dir]]
    pooled = cv["pooled"]
    stored = _read(bundled_dir / "bundle" / "config.json")  # the bundled model's bundle
    measured = stored.get("weights_dtype", "float32")
    times = [_read(p)["train_seconds"] for p in sorted(cv_dir.glob("fold*/train_summary.json"))]
    seeds = [c["seed"] for c in fold_cfgs] if members else []
    pretrained = pretrain_run(net.get("init"))
    commands = cv_commands(cv_dir, cfg, net, recipe["data_arg"], pretrained)
    if final:
        commands += final_commands(final, bundled_members or [final], fold_cfgs, recipe["data_arg"])
        bundled_text = final_lines(cv_dir, cfg, first_member, fold_cfgs[0], stored)
    else:
        bundled_text = [
            f"The bundled weights are the model of fold {fold} of that cross-validation (trained on the other folds "
            f"minus a validation part for model selection); `tumorscope train ... --fold {fold}` with the same options "
            "makes it alone" + (", once per seed, then `tumorscope ensemble`." if members else ".") + " "
            + storage_line(weights_dtype or measured, measured), "", *tta_lines(cv_dir, fold)]
    headline: dict[str, Any] = {"cv_accuracy": round(pooled["accuracy"], 3),
                                "cv_auc_macro": round(pooled["auc_macro"], 3), "cv_n": pooled["n"]}
    by_source = _by_source(cv, headline)
    extra_lines: list[str] = []
    for label, path in extras.items():
        section, key, accuracy = extra_section(label, path)
        extra_lines += section
        headline[key] = round(accuracy, 3)
    training_time = (
        f"{sum(times) / len(times) / 60:.1f} min per fold on average ({min(times) / 60:.1f}-{max(times) / 60:.1f}"
        + (f", all {len(members)} members together" if members else "")
        + f"; {'the bundled model on every image' if final else f'fold {fold}, the bundled model'}: "
        f"{bundled['train_seconds'] / 60:.1f} min" + ("" if bundled_members else f", {bundled['epochs_run']} epochs, "
                                                     f"best at epoch {bundled['best_epoch']}")
        + f"), CPU with {fold_cfgs[0].get('threads') or 'all'} torch thread(s) on a 2-core machine shared with other "
        f"training jobs ({compute_phrase(first_member)})."
        + from_scratch_line(bundled["train_seconds"], [s["train_seconds"] for s in member_summaries], pretrained))
    per_class = [(c, ["-" if v[k] is None else f"{v[k]:.3f}" for k in ("sensitivity", "specificity", "precision", "f1", "auc")])
                 for c, v in pooled["per_class"].items()]
    card = render(
        "classification_card.md.j2", name=name, title=recipe["title"],
        network=trusted(network_sentence(nets, seeds, _origin(net, pretrained))),
        recipe=describe({"path": str(cv_dir), "config": net})[1], classes=pooled["classes"],
        sources=[trusted(s) for s in source_lines(recipe["dataset"])],
        pretraining=lines(pretraining_data_lines(pretrained)) if pretrained else "",
        commands=lines(commands), bundled=lines(bundled_text), dedup=first_member.get("dedup", {}),
        folds_done=cv["folds_done"], pooled=pooled, metric_rows=lines(metric_rows(pooled, cv["across_folds"])),
        per_class=per_class, by_source=_block(by_source), extras=_block(extra_lines), references=recipe["references"], training_time=trusted(training_time))
    return card, headline
