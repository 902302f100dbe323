"""Package the bundled ``lgg-flair-seg`` ensemble from its ensembled 5-fold CV and its final ensemble (numbers
read from files, not typed).

Usage (after the commands in COMMANDS have finished):
    python scripts/package_lgg_flair_seg.py --cv runs/lgg_cv_ens --final runs/lgg_final_ens
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.package import across_folds_table, metrics_table, package
from tumorscope.data.dataset import load_dataset
from tumorscope.train.cv import summarize_folds

R = ("--task segmentation --data ../shared/data/lgg_mri_segmentation --model unet2d --epochs 30 --patience 8 "
     "--size 128 --width 16")
COMMANDS = f"""R="{R}"
# member 1: FLAIR only; member 2: three sequences; member 3: three sequences, seed 1, the same splits
tumorscope cv $R --out runs/lgg_cv_flair
python scripts/retune_postprocess.py runs/lgg_cv_flair/fold0 runs/lgg_cv_flair/fold1
tumorscope cv $R --channels mri3 --out runs/lgg_cv_mri3
for f in 0 1 2 3 4; do
  tumorscope train $R --channels mri3 --seed 1 --splits runs/lgg_cv_flair/fold$f/splits.json --out runs/lgg_cv_mri3s1/fold$f
done
tumorscope ensemble --cv runs/lgg_cv_flair runs/lgg_cv_mri3 runs/lgg_cv_mri3s1 --out runs/lgg_cv_ens
# the shipped model: the same three members trained on all 83 patients (the same 15% validation patients)
tumorscope train $R --out runs/lgg_final
tumorscope train $R --channels mri3 --out runs/lgg_final_mri3
tumorscope train $R --channels mri3 --seed 1 --splits runs/lgg_final/splits.json --out runs/lgg_final_mri3s1
tumorscope ensemble runs/lgg_final runs/lgg_final_mri3 runs/lgg_final_mri3s1 --out runs/lgg_final_ens
python scripts/package_lgg_flair_seg.py --cv runs/lgg_cv_ens --final runs/lgg_final_ens"""
KEYS = ["dice_mean", "dice_median", "iou_mean", "hd95_mean_mm", "slice_sensitivity", "slice_specificity", "slice_auc"]


def member_line(run: Path) -> str:
    cfg = json.loads((run / "config.json").read_text())
    t = json.loads((run / "train_summary.json").read_text())
    return (f"- `{run}`: channels {cfg['channels']}, seed {cfg['seed']}: {t['train_seconds'] / 60:.1f} min, "
            f"{t['epochs_run']} epochs, best epoch {t['best_epoch']}")


def member_cv_line(cv_dir: Path, k: int) -> str:
    """A member's own CV result (its folds scored alone)."""
    alone = summarize_folds(cv_dir, k)
    return f"| `{cv_dir}` alone | {alone['dice_mean']:.3f} | {alone['dice_median']:.3f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv", type=Path, default=Path("runs/lgg_cv_ens"), help="the ensembled CV folder")
    ap.add_argument("--final", type=Path, default=Path("runs/lgg_final_ens"), help="the ensemble trained on all patients")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/lgg_mri_segmentation"))
    args = ap.parse_args()

    cv = json.loads((args.cv / "cv_summary.json").read_text())
    cv_members = [Path(p) for p in json.loads((args.cv / "cv_config.json").read_text())["ensemble_of"]]
    final = args.final
    val = json.loads((final / "val_metrics.json").read_text())
    train = json.loads((final / "train_summary.json").read_text())
    members = [Path(p) for p in train["members"]]
    splits = json.loads((final / "splits.json").read_text())["folds"][0]
    fold_minutes = [
        json.loads((args.cv / f"fold{i}" / "train_summary.json").read_text())["train_seconds"] / 60
        for i in range(cv["k"]) if (args.cv / f"fold{i}" / "train_summary.json").exists()
    ]
    # The demo example: the first (by id) of the final model's VALIDATION patients - never trained on.
    example_patient = sorted(splits["val"]["groups"])[0]
    ds = load_dataset(args.data)
    example_volume = next(s.extra["volume_id"] for s in ds.samples if s.patient_id == example_patient)
    complete = next((r for r in cv["per_patient"] if r["id"] == "TCGA_CS_4942"), None)

    complete_line = (
        f"The one complete volume (TCGA_CS_4942, all 20 slices): Dice {complete['dice']:.3f}, "
        f"{complete['false_positive_slices']} false-positive slice(s) among its "
        f"{complete['n_slices'] - complete['tumor_slices']} tumor-free slices." if complete else ""
    )
    lo, hi = cv["dice_ci95"]
    headline = {"cv_dice": round(cv["dice_mean"], 3), "cv_dice_ci95": [round(lo, 3), round(hi, 3)],
                "patients": cv["n_patients"]}
    member_rows = "\n".join(member_cv_line(d, cv["k"]) for d in cv_members)
    card = f"""# lgg-flair-seg — FLAIR abnormality segmentation in lower-grade glioma MRI

**Task**: 2-D segmentation of the FLAIR hyperintense tumor region, slice by slice. The network is an ensemble of
three MONAI residual U-Nets (128x128 input; masks are resized back to the input grid) whose probabilities are
averaged: one reads FLAIR only, two read the three kaggle_3m sequences (pre-contrast, FLAIR, post-contrast;
seeds 0 and 1). Given a single sequence (a FLAIR NIfTI or DICOM series, one gray slice) only the FLAIR member
votes, because the 3-sequence members are out of their domain there (fold 0: 0.55 Dice on FLAIR-only input).
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
patients). All three members of a fold share its split, so the ensemble's post-processing is chosen on the same
validation patients and its test patients stay unseen:

```
{COMMANDS}
```

(Folds 0 and 1 of the FLAIR member were trained before the post-processing search covered the threshold and flip
TTA; the `retune_postprocess.py` line re-chose theirs on their own validation patients. Folds 0-1 of the 3-sequence
member ran inside `tumorscope cv`, folds 2-4 as `tumorscope train ... --channels mri3 --fold i` with the same recipe
and split; `--threads` was 1 or 2 depending on what else ran; it does not change the recipe.)

The shipped weights come from the last block: the three members trained on all 83 patients, of which
{len(splits['val']['groups'])} are held out for validation and {len(splits['train']['groups'])} are trained on
(weights stored as float16, computed in float32/bf16):

{chr(10).join(member_line(m) for m in members)}

Training all three took **{train['train_seconds'] / 60:.1f} min** of wall clock in total, measured while 2-4 other
training jobs shared the 2 CPU cores (so an upper bound for 2 idle cores); the CV folds' ensembles took
{', '.join(f'{m:.1f}' for m in fold_minutes)} min each. Post-processing of the ensemble: {json.dumps(train['postprocessing'])}.

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
- With FLAIR alone (NIfTI, DICOM, one gray slice) the model is its FLAIR member: expect that member's CV Dice
  (first row of the table), not the ensemble's.
- Three networks: inference costs three forward passes (about 0.5 s of model time for a 20-slice patient on 2 cores).

## Demo example
`make demo` runs this model on patient `{example_patient}` (`{example_volume}`), one of its validation patients
(never trained on).
"""
    out = package(final, "lgg-flair-seg", ZOO / "lgg-flair-seg", card, headline,
                  {"example_patient": example_patient, "example_volume": example_volume, "modality": "MR"}, half=True)
    print(f"packaged {out}")


if __name__ == "__main__":
    main()
