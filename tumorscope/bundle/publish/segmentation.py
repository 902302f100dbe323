"""Publishing the ``lgg-flair-seg`` ensemble: choose among candidate ensembles by their CV folds' VALIDATION
patients, then ship the chosen candidate trained on all patients (every number read from the runs' JSON files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.package import across_folds_table, metrics_table, package
from tumorscope.bundle.publish.render import lines, render, trusted
from tumorscope.bundle.publish.seg_commands import config_of, ensemble_commands, read_members
from tumorscope.data.dataset import load_dataset
from tumorscope.errors import TumorscopeError
from tumorscope.options import shell_join
from tumorscope.results import MetricsReport

DATA = "../shared/data/lgg_mri_segmentation"
KEYS = ["dice_mean", "dice_median", "iou_mean", "hd95_mean_mm", "slice_sensitivity", "slice_specificity", "slice_auc"]
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
SEQUENCES = (("flair", "FLAIR only"), ("mri3", "the three kaggle_3m sequences (pre-contrast, FLAIR, post-contrast)"))


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def recipe(run: Path) -> tuple[str, int, str]:
    """(channels, seed, augmentation) of a training run or of a CV folder."""
    cfg = config_of(run)
    return cfg.channels, cfg.seed, cfg.augment


def augmentation_note(augment: str) -> str:
    """'' for the default augmentation, else e.g. ' with heavy augmentation'."""
    return "" if augment == "default" else f" with {augment} augmentation"


def recipes_text(recipes: list[tuple[str, int, str]]) -> str:
    """e.g. 'two read FLAIR only (seed 0; seed 1 with heavy augmentation); two read the three kaggle_3m
    sequences (...) (seed 0; seed 1)'."""
    parts = []
    for channels, what in SEQUENCES:
        mine = sorted((s, a) for c, s, a in recipes if c == channels)
        if mine:
            each = "; ".join(f"seed {s}{augmentation_note(a)}" for s, a in mine)
            parts.append(f"{WORDS[len(mine)]} read{'s' if len(mine) == 1 else ''} {what} ({each})")
    return "; ".join(parts)


def validation_dice(cv_dir: Path, k: int) -> float:
    """Mean over folds of the fold ensemble's Dice on that fold's validation patients (never its test ones)."""
    return float(np.mean([_read(cv_dir / f"fold{i}" / "val_metrics.json")["dice_mean"] for i in range(k)]))


def _member_line(run: Path) -> str:
    channels, seed, augment = recipe(run)
    t = _read(run / "train_summary.json")
    return (f"- `{run}`: channels {channels}, seed {seed}{augmentation_note(augment)}: "
            f"{t['train_seconds'] / 60:.1f} min, {t['epochs_run']} epochs, best epoch {t['best_epoch']}")


def dice_cell(summary: dict[str, Any]) -> str:
    """A CV summary's mean Dice with its CI (results schema)."""
    est = MetricsReport.from_json(summary).estimate("dice_mean")
    return "-" if est is None else est.format()


def _candidate_rows(cvs: list[Path], summaries: list[dict[str, Any]], members: list[list[Path]], vals: list[float],
                    best: int) -> str:
    return "\n".join(
        f"| {'**' if i == best else ''}`{c}`{'** (shipped)' if i == best else ''} | {len(members[i])} | "
        f"{vals[i]:.3f} | {dice_cell(s)} | "
        f"{s['dice_median']:.3f} |" for i, (c, s) in enumerate(zip(cvs, summaries)))


def publish_segmentation(cv: list[Path], final: list[Path], flair_only: Path | None = None, data: Path = Path(DATA),
                         zoo: Path = ZOO, name: str = "lgg-flair-seg") -> Path:
    """Choose among the candidate ensembled CVs ``cv`` by validation Dice and publish the matching ``final``."""
    if len(cv) != len(final):
        raise TumorscopeError("--cv and --final need one folder per candidate, in the same order")
    cand_members = [read_members(c) for c in cv]
    final_members = [read_members(f) for f in final]
    for c, f, ms, fs in zip(cv, final, cand_members, final_members):
        if sorted(map(recipe, ms)) != sorted(map(recipe, fs)):
            raise TumorscopeError(f"not made of the same member recipes as {c}", f)
    cvs = [_read(c / "cv_summary.json") for c in cv]
    vals = [validation_dice(c, s["k"]) for c, s in zip(cv, cvs)]
    # highest validation Dice; a tie goes to the smaller ensemble (cheaper at inference)
    best = max(range(len(cv)), key=lambda i: (round(vals[i], 4), -len(cand_members[i])))
    summary, chosen, cv_members, members = cvs[best], final[best], cand_members[best], final_members[best]
    recipes = [recipe(m) for m in cv_members]
    val, train = _read(chosen / "val_metrics.json"), _read(chosen / "train_summary.json")
    splits = _read(chosen / "splits.json")["folds"][0]
    example_patient = sorted(splits["val"]["groups"])[0]  # the demo: a validation patient, never trained on
    example_volume = next(s.extra["volume_id"] for s in load_dataset(data).samples if s.patient_id == example_patient)
    complete = next((r for r in summary["per_patient"] if r["id"] == "TCGA_CS_4942"), None)
    flair_line = ""
    if flair_only and {r[0] for r in recipes} >= {"flair", "mri3"}:
        fo = _read(flair_only / "cv_summary.json")
        flair_line = (f"- With FLAIR alone (NIfTI, DICOM, one gray slice) only the FLAIR members vote: their own "
                      f"ensemble's CV Dice is {dice_cell(fo)} (`{flair_only}`), expect that rather than the full ensemble's.")
    complete_line = (
        f"The one complete volume (TCGA_CS_4942, all 20 slices): Dice {complete['dice']:.3f}, "
        f"{complete['false_positive_slices']} false-positive slice(s) among its "
        f"{complete['n_slices'] - complete['tumor_slices']} tumor-free slices." if complete else "")
    dice = MetricsReport.from_json(summary).estimate("dice_mean")
    if dice is None or dice.ci is None:
        raise TumorscopeError("no mean Dice with a CI in the chosen ensemble's CV summary", cv[best])
    lo, hi = dice.ci
    member_cvs = [_read(d / "cv_summary.json") for d in cv_members]  # each member's folds scored alone
    candidates = {c: ms for c, ms in zip(cv, cand_members)} | ({flair_only: read_members(flair_only)} if flair_only else {})
    publish_line = shell_join(["tumorscope", "models", "publish", name, "--cv", *map(str, cv), "--final",
                               *map(str, final), *(["--flair-only", str(flair_only)] if flair_only else [])])
    all_cv_members = list(dict.fromkeys(m for ms in cand_members for m in ms))
    all_final_members = list(dict.fromkeys(m for ms in final_members for m in ms))
    card = render(
        "segmentation_ensemble_card.md.j2", n_members=WORDS[len(cv_members)], recipes_text=recipes_text(recipes),
        commands=trusted(ensemble_commands(all_cv_members, candidates, all_final_members, dict(zip(final, final_members)),
                                           publish_line)),
        candidate_rows=trusted(_candidate_rows(cv, cvs, cand_members, vals, best)), n_val=len(splits["val"]["groups"]),
        n_train=len(splits["train"]["groups"]), member_lines=lines([_member_line(m) for m in members]),
        train_minutes=train["train_seconds"] / 60, postprocessing=json.dumps(train["postprocessing"]),
        fold_minutes=", ".join(f"{sum(_read(m / f'fold{i}' / 'train_summary.json')['train_seconds'] for m in cv_members) / 60:.1f}"
                               for i in range(summary["k"])),
        cv=summary, lo=lo, hi=hi, val=val, across_folds=trusted(across_folds_table(summary, KEYS)),
        val_table=trusted(metrics_table(val, KEYS)), complete_line=complete_line, flair_line=trusted(flair_line),
        member_rows=lines([f"| `{d}` alone | {m['dice_mean']:.3f} | {m['dice_median']:.3f} |"
                           for d, m in zip(cv_members, member_cvs)]),
        example_patient=example_patient, example_volume=example_volume)
    headline = {"cv_dice": round(summary["dice_mean"], 3), "cv_dice_ci95": [round(lo, 3), round(hi, 3)],
                "patients": summary["n_patients"]}
    return package(chosen, name, zoo / name, card, headline,
                   {"example_patient": example_patient, "example_volume": example_volume, "modality": "MR"},
                   weights_dtype="float16")
