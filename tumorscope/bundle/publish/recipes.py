"""What each bundled classifier is, where its data comes from, and the citation lines of that data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tumorscope.data.locate import shared_dataset

RECIPES: dict[str, dict[str, Any]] = {
    "brain-mri-tumor-type": {
        "title": "Brain MRI tumour type: glioma / meningioma / no tumour / pituitary",
        "dataset": "brain_tumor_mri_4class",
        "data_arg": "../shared/data/brain_tumor_mri_4class",
        "references": [
            "Brain 4-class papers on this Kaggle set report 98-99% accuracy, with image-level splits over a set "
            "that holds 300 groups of pixel-identical images (13 of them across Training/Testing in this subset): "
            "those numbers include leakage.",
        ],
    },
    "breast-us-lesion": {
        "title": "Breast ultrasound lesion: benign / malignant / normal (BUSI)",
        "dataset": "busi",
        "data_arg": "../shared/data/busi",
        "references": [
            "Seed: ResNet-18, 5-fold CV on BUSI (780 images): accuracy 0.884.",
            "Seed: DenseNet ensemble AUC 0.94 in-domain, 0.776 on an external set.",
        ],
    },
    "colon-histo-tumor": {
        "title": "Colon histopathology: adenocarcinoma (colon_aca) / benign tissue (colon_n), LC25000",
        "dataset": "histopathology",
        "data_arg": "../shared/data/histopathology",
        "references": [
            "Seeds report ~99-100% accuracy on LC25000; its 5,000 tiles per class are rotations/flips of ~250 "
            "originals, so image-level splits leak augmented siblings.",
        ],
    },
}


def source_lines(dataset: str) -> list[str]:
    """The dataset's citation and licence lines from its SOURCE.md (when the shared data is present)."""
    root = shared_dataset(dataset)
    if root is None or not (root / "SOURCE.md").exists():
        return [f"(SOURCE.md of `{dataset}` not found)"]
    keep = ("**Original dataset:**", "**Citation:**", "**License:**", "**Taken from:**")
    return [line.strip() for line in (root / "SOURCE.md").read_text().splitlines()
            if line.strip().startswith(keep) and line.strip() not in keep]  # a label whose text is on later lines: left out


def pretraining_data_lines(run: dict[str, Any]) -> list[str]:
    """The self-supervised pretraining data's sources and licences: the weights derive from those images too."""
    lines = ["Self-supervised pretraining data (images only, no labels or masks used):", ""]
    for folder in run["config"]["data"]:
        lines += [f"- `{Path(folder).name}`:", *(f"  - {s}" for s in source_lines(Path(folder).name))]
    return [*lines, "", "The weights derive from the pretraining images as well, so their licence terms apply to "
            "these weights too (a CC BY-NC-SA source makes them non-commercial, shared alike).", ""]
