"""Package the bundled ``lgg-flair-seg`` model from a finished 5-fold CV (numbers read from files, not typed).

Usage (after the CV and final-training commands in the card have finished):
    python scripts/package_lgg_flair_seg.py --cv runs/lgg_cv_flair --final runs/lgg_final
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.package import across_folds_table, metrics_table, package
from tumorscope.data.dataset import load_dataset

RECIPE = "--model unet2d --epochs 30 --patience 8 --size 128 --width 16"
CV_COMMAND = f"tumorscope cv --task segmentation --data ../shared/data/lgg_mri_segmentation {RECIPE} --out runs/lgg_cv_flair"
FINAL_COMMAND = f"tumorscope train --task segmentation --data ../shared/data/lgg_mri_segmentation {RECIPE} --out runs/lgg_final"
KEYS = ["dice_mean", "dice_median", "iou_mean", "hd95_mean_mm", "slice_sensitivity", "slice_specificity", "slice_auc"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv", type=Path, default=Path("runs/lgg_cv_flair"))
    ap.add_argument("--final", type=Path, default=Path("runs/lgg_final"), help="the run trained on all patients")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/lgg_mri_segmentation"))
    args = ap.parse_args()

    cv = json.loads((args.cv / "cv_summary.json").read_text())
    final = args.final
    val = json.loads((final / "val_metrics.json").read_text())
    train = json.loads((final / "train_summary.json").read_text())
    splits = json.loads((final / "splits.json").read_text())["folds"][0]
    train_minutes = [
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
    card = f"""# lgg-flair-seg — FLAIR abnormality segmentation in lower-grade glioma MRI

**Task**: 2-D segmentation of the FLAIR hyperintense tumor region, slice by slice (MONAI residual U-Net,
1 input channel = FLAIR, 128x128 network input; masks are resized back to the input grid).
**Input**: a kaggle_3m patient folder (channel 1 of the RGB TIFFs is FLAIR), a folder of FLAIR slices, one slice
(PNG/JPG/TIFF), a FLAIR NIfTI or a DICOM series (axial slices). Intensities are normalised per volume.
**Output**: tumor mask, probability, volume, components (see `tumorscope predict --help`).

## Data and licence
Trained on `../shared/data/lgg_mri_segmentation`: 83 patients / 1522 slices of the LGG Segmentation Dataset
(Buda et al., Comput Biol Med 2019; Mazurowski et al., J Neurooncol 2017; images from TCGA-LGG on TCIA).
The dataset is distributed as **CC BY-NC-SA 4.0** (Kaggle listing; TCIA data-usage policy for the images).
These weights are derived from that data, so we distribute them under the same terms: **non-commercial research
use only, attribution required, derivatives under the same licence**. Not a medical device; not for diagnosis.

## How it was trained (exact command)
5-fold patient-grouped cross-validation (StratifiedGroupKFold by patient, seed 0); inside each fold 15% of the
training patients are held out for validation (best epoch by validation per-patient Dice, early stopping, and the
post-processing - threshold, small-component removal, flip TTA - are chosen on them, never on the fold's test patients):

```
{CV_COMMAND}
python scripts/retune_postprocess.py runs/lgg_cv_flair/fold0 runs/lgg_cv_flair/fold1
{FINAL_COMMAND}
python scripts/package_lgg_flair_seg.py --cv runs/lgg_cv_flair --final runs/lgg_final
```

(Folds 0 and 1 were trained before the post-processing search covered the threshold and flip TTA; the second line
re-chose their post-processing on their own validation patients with the same search, then re-scored their test
patients. `--threads` was 2 or 1 depending on what else ran; it does not change the recipe.)

The shipped weights come from the last command: the same recipe trained on all 83 patients, of which
{len(splits['val']['groups'])} are held out for validation (best epoch, early stopping, post-processing) and
{len(splits['train']['groups'])} are trained on. Training took {train['train_seconds'] / 60:.1f} min on 2 CPU cores
({train['epochs_run']} epochs, best epoch {train['best_epoch']}, stop: {train['stop_reason']}); the CV folds took
{', '.join(f'{m:.1f}' for m in train_minutes)} min (measured while other jobs shared the 2 cores).
Post-processing: {json.dumps(train['postprocessing'])}.

## Cross-validated results on patients never trained on (all {cv['n_patients']} patients, each scored once by the fold model that did not see it)
Per-patient volumetric Dice (slices of a patient stacked, then Dice): **{cv['dice_mean']:.3f}
(95% bootstrap CI {lo:.3f}–{hi:.3f})**, median {cv['dice_median']:.3f}; IoU {cv['iou_mean']:.3f};
HD95 {cv['hd95_mean_mm']:.1f} **pixels** (the kaggle_3m TIFFs carry no spacing).
Reference: Buda et al. 2019 report 0.82 mean per-patient Dice on this dataset; two expert readers agree at 0.84 ± 0.02.

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
- Trained on 83 TCGA-LGG patients (5 institutions); pre-operative FLAIR only; lower-grade gliomas only.
- Real use sees whole volumes (~65% tumor-free slices); the numbers above come from a subset with ~33% tumor-free
  slices, so expect more false-positive slices on full volumes than this table shows.
- Input resolution 128x128: very small lesions (a few pixels at 256x256) can be missed.

## Demo example
`make demo` runs this model on patient `{example_patient}` (`{example_volume}`), one of its validation patients
(never trained on).
"""
    out = package(final, "lgg-flair-seg", ZOO / "lgg-flair-seg", card, headline,
                  {"example_patient": example_patient, "example_volume": example_volume, "modality": "MR"})
    print(f"packaged {out}")


if __name__ == "__main__":
    main()
