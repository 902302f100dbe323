"""The lgg-flair-seg publisher on synthetic run folders: the candidate with the best VALIDATION Dice ships, its card
renders every number from the runs' files, and its commands come from the members' saved configs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import tumorscope.bundle.publish.segmentation as seg
from tumorscope.options import TrainConfig

K = 2


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _summary(dice: float) -> dict:
    across = {k: {"mean": dice, "sd": 0.01, "per_fold": [dice] * K} for k in seg.KEYS}
    return {"k": K, "dice_mean": dice, "dice_median": dice + 0.01, "dice_ci95": [dice - 0.02, dice + 0.02],
            "iou_mean": dice - 0.1, "hd95_mean_mm": 9.5, "n_patients": 10, "false_positive_slices": 3,
            "tumor_free_slices": 40, "across_folds": across,
            "per_patient": [{"id": "TCGA_CS_4942", "dice": 0.9, "false_positive_slices": 1, "n_slices": 20,
                             "tumor_slices": 8}]}


def _member(root: Path, name: str, channels: str, seed: int, cv: bool) -> Path:
    run = root / name
    cfg = TrainConfig(data=seg.DATA, channels=channels, seed=seed, epochs=30, patience=8, threads=1,
                      splits=str(root / ("cv_splits.json" if cv else "final_splits.json")), out=str(run))
    _write(run / ("cv_config.json" if cv else "config.json"), cfg.to_dict())
    if cv:
        _write(run / "cv_summary.json", _summary(0.8))
        for i in range(K):
            _write(run / f"fold{i}" / "train_summary.json", {"train_seconds": 600.0})
    else:
        _write(run / "train_summary.json", {"train_seconds": 900.0, "epochs_run": 30, "best_epoch": 22})
    return run


def test_the_candidate_with_the_best_validation_dice_ships(tmp_path, monkeypatch):
    recipes = [("flair", 0), ("mri3", 0), ("mri3", 1)]
    cvm = [_member(tmp_path, f"cv_{c}_{s}", c, s, True) for c, s in recipes]
    fin = [_member(tmp_path, f"final_{c}_{s}", c, s, False) for c, s in recipes]
    candidates = []
    for name, members, val, test in (("cv_ens2", cvm[:2], 0.80, 0.83), ("cv_ens3", cvm, 0.82, 0.81)):
        _write(tmp_path / name / "cv_config.json", {"task": "segmentation", "folds": K,
                                                    "ensemble_of": [str(m) for m in members]})
        _write(tmp_path / name / "cv_summary.json", _summary(test))
        for i in range(K):
            _write(tmp_path / name / f"fold{i}" / "val_metrics.json", {"dice_mean": val})
        candidates.append(tmp_path / name)
    finals = []
    for name, members in (("final_ens2", fin[:2]), ("final_ens3", fin)):
        _write(tmp_path / name / "train_summary.json", {"members": [str(m) for m in members], "train_seconds": 1800.0,
                                                        "postprocessing": {"threshold": 0.5}})
        _write(tmp_path / name / "val_metrics.json", {"n_patients": 2, "dice_mean": 0.8})
        _write(tmp_path / name / "splits.json", {"folds": [{"val": {"groups": ["P2", "P1"]},
                                                           "train": {"groups": ["P3"] * 8}}]})
        finals.append(tmp_path / name)
    samples = [SimpleNamespace(patient_id="P1", extra={"volume_id": "P1_vol"})]
    monkeypatch.setattr(seg, "load_dataset", lambda root: SimpleNamespace(samples=samples))
    packaged = {}
    monkeypatch.setattr(seg, "package", lambda run, name, out, card, headline, extra, weights_dtype: packaged.update(
        run=run, card=card, headline=headline, extra=extra) or out)
    seg.publish_segmentation(candidates, finals, zoo=tmp_path / "zoo")
    card = packaged["card"]
    assert packaged["run"] == finals[1]  # validation Dice 0.82 beats 0.80, although its test Dice is lower
    assert packaged["headline"] == {"cv_dice": 0.81, "cv_dice_ci95": [0.79, 0.83], "patients": 10}
    assert packaged["extra"]["example_patient"] == "P1" and "`P1_vol`" in card
    assert "ensemble of\nthree MONAI residual U-Nets" in card and "one reads FLAIR only (seed 0)" in card
    assert f"| **`{candidates[1]}`** (shipped) | 3 | 0.820 |" in card
    assert 'R="--task segmentation --data ../shared/data/lgg_mri_segmentation --model unet2d --width 16 ' in card
    assert f"tumorscope train $R --channels mri3 --seed 1 --splits {tmp_path}/final_splits.json --out {fin[2]}" in card
    assert "tumorscope models publish lgg-flair-seg --cv" in card and "Dice 0.900" in card
    assert "{{" not in card and "None" not in card
