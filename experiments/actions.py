"""Built-in actions of round files: copies of CV runs to re-score, and a one-line summary of CV results."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

_META = ("config.json", "splits.json", "dedup.json", "metrics.csv", "train_summary.json")


def copy_done(dst: Path, folds: int = 5) -> bool:
    """A copy is finished when every fold has its checkpoint link (made last)."""
    return all(os.path.lexists(dst / f"fold{f}" / "checkpoint.pt") for f in range(folds))


def _set_last(cfg_file: Path) -> None:
    cfg = json.loads(cfg_file.read_text())
    cfg.update(keep="last", out=str(cfg_file.parent))
    cfg_file.write_text(json.dumps(cfg, indent=2) + "\n")


def last_epoch_copy(src: Path, dst: Path, folds: int = 5) -> None:
    """A copy of CV run SRC whose folds' best.pt holds each run's last epoch (its checkpoint.pt's model); its
    configs say ``keep: last``. ``tumorscope train --resume`` of a copied fold rebuilds the bundle and scores it."""
    import torch  # only here: the runner itself needs no torch

    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "cv_config.json", dst)
    _set_last(dst / "cv_config.json")
    for f in range(folds):
        d = dst / f"fold{f}"
        d.mkdir(exist_ok=True)
        for x in _META:
            shutil.copy(src / f"fold{f}" / x, d)
        _set_last(d / "config.json")
        state = torch.load(src / f"fold{f}" / "checkpoint.pt", map_location="cpu", weights_only=False)
        torch.save(state["model"], d / "best.pt")
        if not os.path.lexists(d / "checkpoint.pt"):
            (d / "checkpoint.pt").symlink_to((src / f"fold{f}" / "checkpoint.pt").resolve())
        print(d, "last epoch", state["epoch"], "best epoch", state.get("best_epoch"), flush=True)


def linked_copy(src: Path, dst: Path, folds: int = 5) -> None:
    """A copy of CV run SRC with its metadata copied and best.pt / checkpoint.pt linked (a finished run's resume
    reads them and never writes them), e.g. to apply ``train --resume --precise-bn`` beside the original."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "cv_config.json", dst)
    for f in range(folds):
        d, s = dst / f"fold{f}", src / f"fold{f}"
        d.mkdir(exist_ok=True)
        for x in (*_META, "training_curves.png"):
            if (s / x).exists():
                shutil.copy(s / x, d)
        for x in ("best.pt", "checkpoint.pt"):  # checkpoint.pt last: copy_done looks for it
            if os.path.lexists(d / x):
                (d / x).unlink()
            (d / x).symlink_to((s / x).resolve())


def cv_summary(runs: list[Path]) -> None:
    """Print each CV folder's pooled result: folds done, n, accuracy, correct images, CI, macro AUC."""
    for run in runs:
        s = json.loads((run / "cv_summary.json").read_text())
        p = s["pooled"]
        print(run, "folds", s["folds_done"], "n", p["n"], f"acc {p['accuracy']:.4f}", "correct",
              round(p["accuracy"] * p["n"]), "ci", [round(x, 3) for x in p["ci95"]["accuracy"]],
              f"auc {p['auc_macro']:.4f}", flush=True)
