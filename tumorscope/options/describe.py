"""Describing a run by its saved options: the network label, the training recipe in words, a CV folder's
options - read from the run's JSON files (cv_config.json / config.json), so any stage may use them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError
from tumorscope.options.train import CLASSICAL_MODELS

PRETRAIN_SUMMARY = "pretrain_summary.json"  # what marks a `tumorscope pretrain` run folder
COLUMNS = (("Accuracy", "accuracy"), ("Precision", "precision_macro"), ("Recall", "sensitivity_macro"),
           ("F1", "f1_macro"), ("AUC", "auc_macro"))


def is_pretrain_run(path: str | Path | None) -> bool:
    """Whether ``path`` is a finished ``tumorscope pretrain`` run (usable as ``--init``)."""
    return bool(path) and (Path(str(path)) / PRETRAIN_SUMMARY).exists()


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TumorscopeError(f"cannot read ({exc})", path) from exc


def run_config(run: Path) -> dict[str, Any]:
    """The options of a CV folder (its cv_config.json, or fold 0's config.json for a seed loop of trainings)."""
    for file in (run / "cv_config.json", run / "fold0" / "config.json"):
        if file.exists():
            return read_json(file)
    return {}


def network_label(cfg: dict[str, Any]) -> str:
    """A network as a run's config describes it: "resnet18 w32 128px"."""
    return f"{cfg.get('model')} w{cfg.get('width')} {cfg.get('size')}px"


def _tta_note(run: Path) -> str:
    """", mirror TTA" (or "in k of n folds") where an ensembled CV's fold bundles average each image with its mirror."""
    stored = [read_json(f).get("inference", {}).get("tta", False) for f in sorted(run.glob("fold*/bundle/config.json"))]
    on = sum(stored)
    return "" if not on else ", mirror TTA" if on == len(stored) else f", mirror TTA in {on} of {len(stored)} folds"


def describe(result: dict[str, Any]) -> tuple[str, str]:
    """(model, training) labels: e.g. ("resnet18 w32 128px", "transfer: brain-mri-tumor-type, freeze 2"); an
    ensembled CV is described by its members, grouped: "ensemble of 2 x resnet18 w32 192px + 2 x ... 128px"."""
    cfg = result["config"]
    members = cfg.get("ensemble_of") or []
    configs = [run_config(Path(m)) for m in members]
    if configs and all(configs):  # networks without seeds: the members' seeds are what an ensemble averages over
        labels = [(network_label(c), describe({"path": m, "config": c})[1]) for m, c in zip(members, configs)]
        stored = Path(result["path"]) / "fold0" / "bundle" / "config.json"
        dtype = read_json(stored).get("weights_dtype") if stored.exists() else None
        nets = list(dict.fromkeys(net for net, _ in labels))  # in order of first appearance
        trainings = list(dict.fromkeys(training for _, training in labels))
        model = "ensemble of " + " + ".join(f"{sum(n == net for n, _ in labels)} x {net}" for net in nets)
        return model + (f" ({dtype} weights)" if dtype else ""), " / ".join(trainings) + _tta_note(Path(result["path"]))
    if not cfg:
        return Path(result["path"]).name, "-"
    if cfg.get("model") in CLASSICAL_MODELS:  # a scikit-learn pipeline on features: no epochs, no network
        table = Path(cfg["features"]).name if cfg.get("features") else f"{cfg.get('roi', 'foreground')} radiomics"
        extras = [x for x in (cfg.get("select") and f"select {cfg['select']}", cfg.get("hparams"),
                              cfg.get("patient_relative") and "patient-relative") if x]
        return cfg["model"], f"features: {table}" + ("; " + ", ".join(extras) if extras else "")
    model = network_label(cfg) + (f" (seed {cfg['seed']})" if cfg.get("seed") else "")
    init = cfg.get("init")
    if not init:
        training = "from scratch"
    elif is_pretrain_run(init):
        training = f"self-supervised init ({Path(init).name})"
    else:
        training = f"transfer from {'/'.join(Path(init).parts[-2:])}"
    if init and cfg.get("freeze"):
        training += f", {cfg['freeze']} stage(s) frozen"
    extras = [x for x in (cfg.get("crop", "none") != "none" and f"{cfg['crop']} crop",
                          cfg.get("enhancement", "none") != "none" and f"{cfg['enhancement']} enhancement",
                          cfg.get("epochs") and f"{cfg['epochs']} epoch" + "s" * (cfg["epochs"] != 1),
                          cfg.get("augment", "default") != "default" and f"{cfg.get('augment')} augmentation",
                          cfg.get("mixup") and f"mixup {cfg['mixup']}",
                          cfg.get("label_smoothing") and f"label smoothing {cfg['label_smoothing']}",
                          cfg.get("ema") and f"weight EMA {cfg['ema']}",
                          cfg.get("keep") == "last" and "last epoch kept",
                          cfg.get("precise_bn") and "precise BatchNorm",
                          cfg.get("loss") == "focal" and "focal loss", cfg.get("class_weights") == "balanced"
                          and "class weights", cfg.get("sampler") == "balanced" and "balanced sampler") if x]
    return model, training + ("; " + ", ".join(extras) if extras else "")
