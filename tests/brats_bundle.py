"""A tiny 3-D BraTS-like bundle for tests: synthetic cases whose FLAIR shows the whole tumor and T1ce the
enhancing part (T1 and T2 are noise), a 4-channel ``unet3d`` trained on them in seconds by the existing 3-D
trainer (one output: the whole tumor), and a copy with three sigmoid outputs (WT/TC/ET) that each repeat it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tests.synthetic import brats_labels, write_nifti_volume

MODALITIES = ("flair", "t1", "t1ce", "t2")


def write_signal_cases(root: Path, n_cases: int = 6) -> Path:
    """``root/<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz``: the label block shifted per case."""
    for i in range(n_cases):
        rng = np.random.default_rng(i)
        labels = np.roll(brats_labels(), (0, i - n_cases // 2, 2 - i), axis=(0, 1, 2))
        case = f"Brats18_SYN_{i:03d}_1"
        signal = {"flair": (labels > 0) * 200, "t1ce": (labels == 4) * 200}
        for m in MODALITIES:
            image = signal.get(m, np.zeros(labels.shape)) + rng.random(labels.shape) * 60 + 20
            write_nifti_volume(root / case / f"{case}_{m}.nii.gz", image.astype(np.int16))
        write_nifti_volume(root / case / f"{case}_seg.nii.gz", labels)
    return root


def train_tiny(data: Path, run: Path, epochs: int = 8) -> Path:
    """The generic 3-D trainer (VolumeTrainer: one output, the whole tumor) on ``data``, all 4 modalities as
    channels; returns the bundle folder. (``tumorscope train`` on BraTS cases runs the WT/TC/ET region trainer:
    these tests need a generic 3-D bundle, so they call the generic trainer directly.)"""
    from tumorscope.options import TrainConfig, parse
    from tumorscope.train.volumetric import VolumeTrainer

    cfg = parse(TrainConfig, ["--task", "segmentation", "--data", str(data), "--model", "unet3d", "--epochs",
                              str(epochs), "--out", str(run), "--val-fraction", "0.34", "--size", "48", "--width", "4",
                              "--batch-size", "3", "--threads", "1", "--augment", "light", "--channels", "all"])
    VolumeTrainer(cfg).run()
    return run / "bundle"


def with_three_outputs(bundle_dir: Path, out: Path) -> Path:
    """The bundle's network widened to 3 outputs (WT/TC/ET) that each compute its one output."""
    from tumorscope.bundle import load_bundle
    from tumorscope.bundle.bundle import save_bundle
    from tumorscope.models import build_model

    bundle = load_bundle(bundle_dir)
    spec = dict(bundle.config["model"], out_channels=3)
    net = build_model(spec["name"], spec["in_channels"], 3, **spec.get("options", {}))
    src, state = bundle.model.state_dict(), net.state_dict()
    for key, target in state.items():
        s = src[key]
        differ = [i for i, (a, b) in enumerate(zip(s.shape, target.shape)) if a != b]
        if len(differ) == 2:  # the last conv: 1 -> 1 becomes 3 -> 3 block-diagonal
            target = torch.zeros_like(target)
            for i in range(3):
                target[i, i] = s[0, 0]
            state[key] = target
        else:
            state[key] = torch.cat([s] * 3, dim=differ[0]) if differ else s
    net.load_state_dict(state)
    config = dict(bundle.config, model=spec, modalities=list(MODALITIES), regions=["WT", "TC", "ET"])
    save_bundle(out, net, config)
    return out
