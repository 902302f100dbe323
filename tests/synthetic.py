"""Synthetic test data written by the tests themselves (one helper, as MONAI's tests do)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from tumorscope.data.phantom import brain_phantom

# `tumorscope train` options of the tiny segmentation runs (a 2-epoch unet2d on write_kaggle3m data, seconds).
TINY_SEG = ["--task", "segmentation", "--model", "unet2d", "--epochs", "2", "--val-fraction", "0.34", "--size", "32",
            "--width", "4", "--batch-size", "8", "--threads", "1", "--augment", "light"]


def write_kaggle3m(root: Path, n_patients: int = 6, n_slices: int = 4, size: int = 64) -> Path:
    """A tiny LGG kaggle_3m dataset: ``root/kaggle_3m/TCGA_XX_000N_20000101/…_<n>.tif`` + ``_mask.tif``.

    Every other patient has a lesion; the rest are tumor-free."""
    base = root / "kaggle_3m"
    for p in range(n_patients):
        vol, lesion = brain_phantom(n_slices, size=size, seed=p)
        if p % 2:
            lesion[:] = False
            vol[..., 1] = np.minimum(vol[..., 1], 140)
        name = f"TCGA_XX_{p:04d}_20000101"
        d = base / name
        d.mkdir(parents=True)
        for i in range(n_slices):
            tifffile.imwrite(d / f"{name}_{i + 1}.tif", vol[i])
            tifffile.imwrite(d / f"{name}_{i + 1}_mask.tif", (lesion[i] * 255).astype(np.uint8))
    return root


SPACING_XYZ = (0.9, 0.9, 2.5)


def write_nnunet(
    root: Path, n_cases: int = 6, shape: tuple[int, int, int] = (12, 16, 16), n_channels: int = 1
) -> Path:
    """A tiny nnU-Net v2 raw dataset of (Z, Y, X) phantom FLAIR volumes: ``dataset.json``,
    ``imagesTr/case_00N_0000.nii.gz`` and ``labelsTr/case_00N.nii.gz`` with anisotropic spacing
    ``SPACING_XYZ`` and a shifted origin. Every other case is tumor-free. Channel ``k`` > 0 is
    ``imagesTr/case_00N_000k.nii.gz``: the phantom's other sequences (pre-, post-contrast)."""
    import json

    from tumorscope.io import Image, write_image

    z, y, x = shape
    assert y == x, "the phantom is square in-plane"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    for c in range(n_cases):
        vol, lesion = brain_phantom(z, size=y, seed=c)
        if c % 2:
            lesion[:] = False
            vol[..., 1] = np.minimum(vol[..., 1], 140)
        geometry = {"spacing": SPACING_XYZ, "origin": (-7.0, 3.0, 11.0 + c)}
        for k, seq in enumerate((1, 0, 2)[:n_channels]):
            image = Image.from_array(vol[..., seq : seq + 1].astype(np.int16), **geometry)
            write_image(image, root / "imagesTr" / f"case_{c:03d}_{k:04d}.nii.gz")
        label = Image.from_array(lesion[..., None].astype(np.uint8), **geometry)
        write_image(label, root / "labelsTr" / f"case_{c:03d}.nii.gz")
    names = {str(k): name for k, name in enumerate(("FLAIR", "T1", "T1c")[:n_channels])}
    desc = {"channel_names": names, "labels": {"background": 0, "tumor": 1}, "numTraining": n_cases,
            "file_ending": ".nii.gz"}
    (root / "dataset.json").write_text(json.dumps(desc))
    return root


SEGMENTATION_METRIC_KEYS = (
    "task", "n_patients", "n_slices", "dice_mean", "dice_median", "dice_ci95", "iou_mean", "hd95_mean_mm",
    "slice_sensitivity", "slice_specificity", "slice_auc", "per_patient",
)


def read_segmentation_metrics(out: Path) -> dict:
    """``out/metrics.json`` of a segmentation evaluation, checked for every required key."""
    import json

    m = json.loads((out / "metrics.json").read_text())
    missing = [k for k in SEGMENTATION_METRIC_KEYS if k not in m]
    assert not missing, missing
    assert m["task"] == "segmentation" and 0.0 <= m["dice_mean"] <= 1.0
    return m


def noisy_predictions(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class indices (n/3 each of 3 classes) and softmax probabilities of noisy logits favouring the true class."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits)
    return y, p / p.sum(1, keepdims=True)


BRATS_SHAPE = (16, 20, 24)  # numpy (Z, Y, X) of the tiny synthetic BraTS volumes


def brats_labels(et: bool = True, ncr: bool = True) -> np.ndarray:
    """A tiny BraTS 2018 label map (numpy Z, Y, X): an edema block (2) around a core (1) around enhancing tumor
    (4); ``et=False`` leaves no label 4 (an empty-ET case), ``ncr=False`` no label 1."""
    labels = np.zeros(BRATS_SHAPE, dtype=np.uint8)
    labels[3:13, 4:16, 4:18] = 2
    labels[5:11, 6:14, 6:16] = 1 if ncr else 2
    if et:
        labels[6:10, 8:12, 8:14] = 4
    return labels


def write_nifti_volume(path: Path, array: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Path:
    """Write a numpy (Z, Y, X[, C]) array as NIfTI (x fastest on disk) with ``spacing`` in mm (x, y, z)."""
    import nibabel as nib

    data = np.moveaxis(array, [0, 1, 2], [2, 1, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), str(path))
    return path


def write_brats_case(root: Path, case: str, labels: np.ndarray | None = None, naming: str = "2018",
                     spacing: tuple[float, float, float] = (1.0, 1.0, 1.0), skip: tuple[str, ...] = ()) -> Path:
    """``root/<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz`` (``naming="2023"``: ``-t2f,-t1n,-t1c,-t2w,-seg``)."""
    tags = {"2018": ("_flair", "_t1", "_t1ce", "_t2", "_seg"), "2023": ("-t2f", "-t1n", "-t1c", "-t2w", "-seg")}[naming]
    labels = brats_labels() if labels is None else labels
    rng = np.random.default_rng(len(case))
    for tag in tags[:4]:
        if tag.lstrip("_-") not in skip:
            image = (rng.random(labels.shape) * 100 + labels * 50).astype(np.int16)
            write_nifti_volume(root / case / f"{case}{tag}.nii.gz", image, spacing)
    return write_nifti_volume(root / case / f"{case}{tags[4]}.nii.gz", labels, spacing)


def write_msd_brats(root: Path, cases: dict[str, np.ndarray], n_channels: int = 4) -> Path:
    """An MSD Task01_BrainTumour folder: dataset.json, imagesTr/<case>.nii.gz 4-D, labelsTr/<case>.nii.gz."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps({
        "name": "BRATS", "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
        "labels": {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
        "training": [{"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"} for c in cases]}))
    for case, labels in cases.items():
        image = np.stack([labels.astype(np.float32) * (k + 1) for k in range(n_channels)], axis=-1)
        write_nifti_volume(root / "imagesTr" / f"{case}.nii.gz", image)
        write_nifti_volume(root / "labelsTr" / f"{case}.nii.gz", labels)
    return root
