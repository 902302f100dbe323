"""Test models and data for the explanation tests: hand-built "oracle" networks whose evidence is known
(a bright blob), tiny registry bundles, and a BUSI-like folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage
from torch import nn

from tumorscope.bundle import Bundle, save_bundle
from tumorscope.models import build_model


def blob_batch(n: int = 3, size: int = 32, radius: int = 4, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """(N, 1, S, S) dim noisy images with one bright disc each (at a random place) and the disc masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images, masks = [], []
    for _ in range(n):
        cy, cx = rng.integers(radius + 2, size - radius - 2, size=2)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        images.append(np.where(mask, 0.9, 0.2) + 0.03 * rng.standard_normal((size, size)))
        masks.append(mask)
    return torch.tensor(np.stack(images)[:, None], dtype=torch.float32), np.stack(masks)


def oracle_segmenter() -> nn.Module:
    """Tumor logit = 20 * (local 3x3 mean - 0.5): bright pixels are tumor, and nothing else matters."""
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1))
    with torch.no_grad():
        net[0].weight.fill_(20 / 9)
        net[0].bias.fill_(-10.0)
    return net.eval()


def oracle_classifier() -> nn.Module:
    """Class 1 ("tumor") logit grows with the amount of bright pixels; class 0 is a constant."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].weight[0].fill_(10 / 9)
        net[0].bias.copy_(torch.tensor([-6.0, 1.0]))
        net[4].weight.copy_(torch.tensor([[0.0, 0.0], [40.0, 0.0]]))
        net[4].bias.copy_(torch.tensor([0.5, 0.0]))
    return net.eval()


def oracle_bundle(task: str, path: Path) -> Bundle:
    """A Bundle object around an oracle network (not on disk: for in-process tests)."""
    model = oracle_segmenter() if task == "segmentation" else oracle_classifier()
    config = {"task": task, "classes": ["tumor"] if task == "segmentation" else ["normal", "tumor"],
              "preprocessing": {"channels": "gray", "size": [32, 32]}, "model": {}}
    return Bundle(path, config, _model=model)


def tiny_segmentation_bundle(path: Path, size: int = 32) -> Bundle:
    """An untrained width-4 MONAI U-Net saved as a real bundle (FLAIR channel, ``size`` px)."""
    torch.manual_seed(0)
    model = build_model("unet2d", 1, 1, width=4)
    config = {"name": path.name, "task": "segmentation", "classes": ["tumor"],
              "model": {"name": "unet2d", "in_channels": 1, "out_channels": 1, "options": {"width": 4}},
              "preprocessing": {"channels": "flair", "size": [size, size]}, "postprocessing": {"threshold": 0.5}}
    return save_bundle(path, model, config)


def tiny_classification_bundle(path: Path, classes: list[str], size: int = 32, steps: int = 30) -> Bundle:
    """A width-8 MONAI ResNet-18 (2-D), trained for a few steps to tell blob images from blank ones."""
    torch.manual_seed(0)
    model = build_model("resnet18", 3, len(classes), width=8)
    x, _ = blob_batch(16, size, seed=1)
    blank = torch.full_like(x, 0.2) + 0.03 * torch.randn_like(x)
    xb = torch.cat([x, blank]).repeat(1, 3, 1, 1)
    yb = torch.tensor([len(classes) - 1] * 16 + [0] * 16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    config = {"name": path.name, "task": "classification", "classes": classes,
              "model": {"name": "resnet18", "in_channels": 3, "out_channels": len(classes), "options": {"width": 8}},
              "preprocessing": {"channels": "rgb", "size": [size, size], "normalization": "percentile"}}
    return save_bundle(path, model, config)


def write_busi(root: Path, n_per_class: int = 3, seed: int = 0) -> Path:
    """A BUSI-like folder: benign/malignant images with a bright lesion and its mask, normal ones without;
    sizes differ between images, as in BUSI."""
    rng = np.random.default_rng(seed)
    base = root / "Dataset_BUSI_with_GT"
    for cls in ("benign", "malignant", "normal"):
        (base / cls).mkdir(parents=True)
        for i in range(1, n_per_class + 1):
            h, w = int(rng.integers(40, 56)), int(rng.integers(44, 64))
            yy, xx = np.mgrid[:h, :w]
            cy, cx = int(rng.integers(12, h - 12)), int(rng.integers(12, w - 12))
            mask = ((yy - cy) ** 2 + (xx - cx) ** 2 <= 36) if cls != "normal" else np.zeros((h, w), bool)
            img = np.where(mask, 220, 50) + rng.integers(0, 20, size=(h, w))
            PILImage.fromarray(np.repeat(img.astype(np.uint8)[..., None], 3, axis=-1)).save(base / cls / f"{cls} ({i}).png")
            PILImage.fromarray((mask * 255).astype(np.uint8)).save(base / cls / f"{cls} ({i})_mask.png")
    return root


def tiny_ensemble_bundle(path: Path, size: int = 32) -> Bundle:
    """An lgg-flair-seg-like ensemble bundle of untrained width-4 U-Nets: one reads FLAIR (channel 1), one reads
    all three MR sequences, so on a FLAIR-only input (all channels equal) only the first one votes."""
    torch.manual_seed(0)
    members = [{"name": "unet2d", "in_channels": 1, "options": {"width": 4}, "channels": [1]},
               {"name": "unet2d", "in_channels": 3, "options": {"width": 4}, "channels": [0, 1, 2]}]
    model = build_model("ensemble", 3, 1, members=members)
    config = {"name": path.name, "task": "segmentation", "classes": ["tumor"],
              "model": {"name": "ensemble", "in_channels": 3, "out_channels": 1, "options": {"members": members}},
              "preprocessing": {"channels": "mri3", "size": [size, size]}, "postprocessing": {"threshold": 0.5}}
    return save_bundle(path, model, config)


def make_flair_only(patient_dir: Path) -> None:
    """Rewrite a kaggle_3m patient's slices with FLAIR in all three channels, as the LGG data does for patients
    missing a sequence (3 of the shared data's 83 patients)."""
    import tifffile

    for tif in patient_dir.glob("*.tif"):
        if not tif.name.endswith("_mask.tif"):
            img = tifffile.imread(tif)
            tifffile.imwrite(tif, np.repeat(img[..., 1:2], 3, axis=-1))
