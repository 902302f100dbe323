"""Package the bundled ``lgg-flair-seg`` ensemble: choose among candidate ensembles by their CV folds'
VALIDATION patients, then ship the chosen candidate trained on all patients (numbers read from files, not typed).

Usage (after the commands in COMMANDS have finished):
    python scripts/package_lgg_flair_seg.py --cv runs/seg/cv_ens3 runs/seg/cv_ens4 \
        --final runs/seg/final_ens3 runs/seg/final_ens4 --flair-only runs/seg/cv_ens_flair
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.package import across_folds_table, metrics_table, package
from tumorscope.data.dataset import load_dataset
from tumorscope.train.cv import summarize_folds

D = "../shared/data/lgg_mri_segmentation"
R = (f"--task segmentation --data {D} --model unet2d --epochs 30 --patience 8 --size 128 --width 16 --threads 1")
S = "runs/seg"
COMMANDS = f"""R="{R}"
tumorscope datasets split {D} --folds 5 --out {S}/cv_splits.json     # one split for every member
tumorscope datasets split {D} --test 0 --out {S}/final_splits.json   # all 83 patients: train / validation
# four members, each a 5-fold CV on the same splits (run two at a time, one thread each)
tumorscope cv $R --splits {S}/cv_splits.json --out {S}/cv_flair
tumorscope cv $R --augment heavy --seed 1 --splits {S}/cv_splits.json --out {S}/cv_flair_heavy
tumorscope cv $R --channels mri3 --splits {S}/cv_splits.json --out {S}/cv_mri3
tumorscope cv $R --channels mri3 --seed 1 --splits {S}/cv_splits.json --out {S}/cv_mri3_s1
# candidates: the previous three-member recipe and all four members; the FLAIR pair alone (single-sequence input)
tumorscope ensemble --cv {S}/cv_flair {S}/cv_mri3 {S}/cv_mri3_s1 --out {S}/cv_ens3
tumorscope ensemble --cv {S}/cv_flair {S}/cv_flair_heavy {S}/cv_mri3 {S}/cv_mri3_s1 --out {S}/cv_ens4
tumorscope ensemble --cv {S}/cv_flair {S}/cv_flair_heavy --out {S}/cv_ens_flair
# the same members trained on all 83 patients (the 13 validation patients of final_splits.json held out)
tumorscope train $R --splits {S}/final_splits.json --out {S}/final_flair
tumorscope train $R --augment heavy --seed 1 --splits {S}/final_splits.json --out {S}/final_flair_heavy
tumorscope train $R --channels mri3 --splits {S}/final_splits.json --out {S}/final_mri3
tumorscope train $R --channels mri3 --seed 1 --splits {S}/final_splits.json --out {S}/final_mri3_s1
tumorscope ensemble {S}/final_flair {S}/final_mri3 {S}/final_mri3_s1 --out {S}/final_ens3
tumorscope ensemble {S}/final_flair {S}/final_flair_heavy {S}/final_mri3 {S}/final_mri3_s1 --out {S}/final_ens4
python scripts/package_lgg_flair_seg.py --cv {S}/cv_ens3 {S}/cv_ens4 --final {S}/final_ens3 {S}/final_ens4 \\
    --flair-only {S}/cv_ens_flair"""
KEYS = ["dice_mean", "dice_median", "iou_mean", "hd95_mean_mm", "slice_sensitivity", "slice_specificity", "slice_auc"]
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def augmentation_note(augment: str) -> str:
    """'' for the default augmentation, else e.g. ' with heavy augmentation'."""
    return "" if augment == "default" else f" with {augment} augmentation"


def member_line(run: Path) -> str:
    channels, seed, augment = recipe(run)
    t = json.loads((run / "train_summary.json").read_text())
    return (f"- `{run}`: channels {channels}, seed {seed}{augmentation_note(augment)}: "
            f"{t['train_seconds'] / 60:.1f} min, {t['epochs_run']} epochs, best epoch {t['best_epoch']}")


def member_cv_line(cv_dir: Path, k: int) -> str:
    """A member's own CV result (its folds scored alone)."""
    alone = summarize_folds(cv_dir, k)
    return f"| `{cv_dir}` alone | {alone['dice_mean']:.3f} | {alone['dice_median']:.3f} |"


def recipe(run: Path) -> tuple[str, int, str]:
    """(channels, seed, augmentation) of a training run or of a CV folder."""
    name = "config.json" if (run / "config.json").exists() else "cv_config.json"
    cfg = json.loads((run / name).read_text())
    return str(cfg["channels"]), int(cfg["seed"]), str(cfg.get("augment", "default"))


def members_of(ensemble_dir: Path) -> list[Path]:
    """The runs (CV folders or training runs) an ensemble folder was made of."""
    for name, key in (("cv_config.json", "ensemble_of"), ("train_summary.json", "members")):
        if (ensemble_dir / name).exists():
            return [Path(p) for p in json.loads((ensemble_dir / name).read_text())[key]]
    raise SystemExit(f"{ensemble_dir}: not an ensemble folder (no cv_config.json / train_summary.json)")


def validation_dice(cv_dir: Path, k: int) -> float:
    """Mean over folds of the fold ensemble's Dice on that fold's validation patients (never its test ones)."""
    return float(np.mean([json.loads((cv_dir / f"fold{i}" / "val_metrics.json").read_text())["dice_mean"]
                          for i in range(k)]))


def describe(recipes: list[tuple[str, int, str]]) -> str:
    """e.g. 'two read FLAIR only (seed 0; seed 1 with heavy augmentation); two read the three kaggle_3m
    sequences (...) (seed 0; seed 1)'."""
    parts = []
    for channels, what in (("flair", "FLAIR only"),
                           ("mri3", "the three kaggle_3m sequences (pre-contrast, FLAIR, post-contrast)")):
        mine = sorted((s, a) for c, s, a in recipes if c == channels)
        if mine:
            each = "; ".join(f"seed {s}{augmentation_note(a)}" for s, a in mine)
            parts.append(f"{WORDS[len(mine)]} read{'s' if len(mine) == 1 else ''} {what} ({each})")
    return "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv", type=Path, nargs="+", required=True, help="candidate ensembled CV folders")
    ap.add_argument("--final", type=Path, nargs="+", required=True,
                    help="the same candidates trained on all patients, in the same order")
    ap.add_argument("--flair-only", type=Path, help="ensembled CV of the FLAIR-only members (single-sequence input)")
    ap.add_argument("--data", type=Path, default=Path(D))
    args = ap.parse_args()
    if len(args.cv) != len(args.final):
        raise SystemExit("--cv and --final need one folder per candidate, in the same order")
    cand_members = [members_of(c) for c in args.cv]
    for c, f, ms in zip(args.cv, args.final, cand_members):
        if sorted(map(recipe, ms)) != sorted(map(recipe, members_of(f))):
            raise SystemExit(f"{f} was not made of the same member recipes as {c}")

    cvs = [json.loads((c / "cv_summary.json").read_text()) for c in args.cv]
    vals = [validation_dice(c, cv["k"]) for c, cv in zip(args.cv, cvs)]
    # highest validation Dice; a tie goes to the smaller ensemble (cheaper at inference)
    best = max(range(len(args.cv)), key=lambda i: (round(vals[i], 4), -len(cand_members[i])))
    cv, final, cv_members = cvs[best], args.final[best], cand_members[best]
    recipes = [recipe(m) for m in cv_members]
    n_members = WORDS[len(cv_members)]
    val = json.loads((final / "val_metrics.json").read_text())
    train = json.loads((final / "train_summary.json").read_text())
    members = members_of(final)
    splits = json.loads((final / "splits.json").read_text())["folds"][0]
    # The demo example: the first (by id) of the final model's VALIDATION patients - never trained on.
    example_patient = sorted(splits["val"]["groups"])[0]
    ds = load_dataset(args.data)
    example_volume = next(s.extra["volume_id"] for s in ds.samples if s.patient_id == example_patient)
    complete = next((r for r in cv["per_patient"] if r["id"] == "TCGA_CS_4942"), None)
    candidate_rows = "\n".join(
        f"| {'**' if i == best else ''}`{c}`{'** (shipped)' if i == best else ''} | {len(cand_members[i])} | "
        f"{vals[i]:.3f} | {s['dice_mean']:.3f} [{s['dice_ci95'][0]:.3f}, {s['dice_ci95'][1]:.3f}] | "
        f"{s['dice_median']:.3f} |"
        for i, (c, s) in enumerate(zip(args.cv, cvs))
    )
    flair_line = ""
    if args.flair_only and any(r[0] == "flair" for r in recipes) and any(r[0] == "mri3" for r in recipes):
        fo = json.loads((args.flair_only / "cv_summary.json").read_text())
        flair_line = (f"- With FLAIR alone (NIfTI, DICOM, one gray slice) only the FLAIR members vote: their own "
                      f"ensemble's CV Dice is {fo['dice_mean']:.3f} [{fo['dice_ci95'][0]:.3f}, "
                      f"{fo['dice_ci95'][1]:.3f}] (`{args.flair_only}`), expect that rather than the full ensemble's.")

    complete_line = (
        f"The one complete volume (TCGA_CS_4942, all 20 slices): Dice {complete['dice']:.3f}, "
        f"{complete['false_positive_slices']} false-positive slice(s) among its "
        f"{complete['n_slices'] - complete['tumor_slices']} tumor-free slices." if complete else ""
    )
    lo, hi = cv["dice_ci95"]
    headline = {"cv_dice": round(cv["dice_mean"], 3), "cv_dice_ci95": [round(lo, 3), round(hi, 3)],
                "patients": cv["n_patients"]}
    member_rows = "\n".join(member_cv_line(d, cv["k"]) for d in cv_members)
    fold_minutes = [sum(json.loads((m / f"fold{i}" / "train_summary.json").read_text())["train_seconds"]
                        for m in cv_members) / 60 for i in range(cv["k"])]
    card = f"""# lgg-flair-seg — FLAIR abnormality segmentation in lower-grade glioma MRI

**Task**: 2-D segmentation of the FLAIR hyperintense tumor region, slice by slice. The network is an ensemble of
{n_members} MONAI residual U-Nets (128x128 input; masks are resized back to the input grid) whose probabilities are
averaged: {describe(recipes)}. Given a single sequence (a FLAIR NIfTI or DICOM series, one gray slice) only the
FLAIR-only members vote, because the 3-sequence members are out of their domain there.
**Input**: a kaggle_3m patient folder, a folder of slices, one slice (PNG/JPG/TIFF), a NIfTI or a DICOM series
(axial slices). Intensities are normalised per volume and per sequence.
**Output**: tumor mask, probability, volume, components (see `tumorscope predict --help`).

## Data and licence
Trained on `../shared/data/lgg_mri_segmentation`: 83 patients / 1522 slices of the LGG Segmentation Dataset
(Buda et al., Comput Biol Med 2019; Mazurowski et al., J Neurooncol 2017; images from TCGA-LGG on TCIA).
The dataset is distributed as **CC BY-NC-SA 4.0** (Kaggle listing; TCIA data-usage policy for the images).
These weights are derived from that data, so we distribute them under the same terms: **non-commercial research
use only, attribution required, derivatives under the same licence**. Not a medical device; not for diagnosis.

## How it was trained (exact commands)
5-fold patient-grouped cross-validation (StratifiedGroupKFold by patient, seed 0); inside each fold 15% of the
training patients are held out for validation (best epoch by validation per-patient Dice, early stopping, and the
post-processing - threshold, small-component removal, flip TTA - are chosen on them, never on the fold's test
patients). Every member of a fold shares its split (`--splits`), so an ensemble's post-processing is chosen on the
same validation patients and its test patients stay unseen. Which ensemble ships is chosen the same way: by the
fold ensembles' mean Dice on their **validation** patients, never by the test column:

```
{COMMANDS}
```

| candidate (5-fold CV) | members | validation Dice (mean of folds; the choice) | CV test Dice [95% CI] | test median |
|---|---|---|---|---|
{candidate_rows}

The shipped weights come from the final block: the {n_members} members trained on all 83 patients, of which
{len(splits['val']['groups'])} are held out for validation and {len(splits['train']['groups'])} are trained on
(weights stored as float16, computed in float32/bf16):

{chr(10).join(member_line(m) for m in members)}

Training the {n_members} from scratch takes **{train['train_seconds'] / 60:.1f} min** of training in total (each
member on one thread, two at a time on the 2 cores, so about half that in wall clock); a CV fold's members took
{', '.join(f'{m:.1f}' for m in fold_minutes)} min. Post-processing of the ensemble: {json.dumps(train['postprocessing'])}.

## Cross-validated results on patients never trained on (all {cv['n_patients']} patients, each scored once by the fold ensemble that did not see it)
Per-patient volumetric Dice (slices of a patient stacked, then Dice): **{cv['dice_mean']:.3f}
(95% bootstrap CI {lo:.3f}–{hi:.3f})**, median {cv['dice_median']:.3f}; IoU {cv['iou_mean']:.3f};
HD95 {cv['hd95_mean_mm']:.1f} **pixels** (the kaggle_3m TIFFs carry no spacing).
Reference: Buda et al. 2019 report 0.82 mean per-patient Dice on this dataset; two expert readers agree at 0.84 ± 0.02.

| members scored on the same CV test patients | mean Dice | median Dice |
|---|---|---|
{member_rows}
| **ensemble (this model)** | **{cv['dice_mean']:.3f}** | {cv['dice_median']:.3f} |

Across folds (mean ± sd of the 5 fold test sets):

{across_folds_table(cv, KEYS)}

### The shipped model on its {val['n_patients']} validation patients
(used for its model selection, so optimistic; the CV numbers above are the honest estimate)

{metrics_table(val, KEYS)}

### False positives on tumor-free slices
The shared copy keeps all tumor slices but at most six tumor-free slices per patient, so tumor-free slices are
measured explicitly: over all CV test patients, {cv['false_positive_slices']} of {cv['tumor_free_slices']}
tumor-free slices got any predicted tumor pixel (slice specificity
{cv['across_folds']['slice_specificity']['mean']:.3f} mean across folds).
{complete_line}

## Limitations
- Trained on 83 TCGA-LGG patients (5 institutions); pre-operative MRI only; lower-grade gliomas only.
- Real use sees whole volumes (~65% tumor-free slices); the numbers above come from a subset with ~33% tumor-free
  slices, so expect more false-positive slices on full volumes than this table shows.
- Input resolution 128x128: very small lesions (a few pixels at 256x256) can be missed.
{flair_line}
- {n_members.capitalize()} networks: inference costs {n_members} forward passes per slice (measured in
  `bench/seg_inference.py`).

## Demo example
`make demo` runs this model on patient `{example_patient}` (`{example_volume}`), one of its validation patients
(never trained on).
"""
    out = package(final, "lgg-flair-seg", ZOO / "lgg-flair-seg", card, headline,
                  {"example_patient": example_patient, "example_volume": example_volume, "modality": "MR"}, weights_dtype="float16")
    print(f"packaged {out}")


if __name__ == "__main__":
    main()
