"""BraTS conventions shared by the layouts, ``inspect``, ``audit`` and evaluation: modality names, label schemes
and the three nested tumor regions.

Label schemes (which label means what depends on the release):

- ``brats2018`` (BraTS 2017-2021): 1 = necrotic / non-enhancing core, 2 = edema, 4 = enhancing tumor;
- ``brats2023`` (BraTS 2023 glioma, ``-t1c``/``-t1n``/``-t2w``/``-t2f`` names): 1 = NCR, 2 = SNFH (edema), 3 = ET;
- ``msd`` (Medical Segmentation Decathlon Task01): 1 = edema, 2 = non-enhancing tumor, 3 = enhancing tumor.

Regions: whole tumor WT (every tumor label), tumor core TC (all but edema), enhancing tumor ET.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODALITIES = ("flair", "t1", "t1ce", "t2")  # the order of the MSD channels
REGIONS = ("WT", "TC", "ET")
# every spelling of 2018-2023 (and the MSD dataset.json's) -> the canonical modality
ALIASES = {
    "t1": "t1", "t1n": "t1", "t1w": "t1",
    "t1ce": "t1ce", "t1c": "t1ce", "t1gd": "t1ce",
    "t2": "t2", "t2w": "t2",
    "flair": "flair", "t2f": "flair",
}
NEW_NAMES = frozenset({"t1n", "t1c", "t2w", "t2f"})  # BraTS 2023 spellings


@dataclass(frozen=True)
class LabelScheme:
    """What the labels of one release mean and which labels make each region."""

    name: str
    labels: dict[int, str]
    regions: dict[str, tuple[int, ...]]

    @property
    def allowed(self) -> frozenset[int]:
        """Every value a segmentation may hold (background included)."""
        return frozenset({0, *self.labels})

    def region(self, labels: np.ndarray, name: str) -> np.ndarray:
        """Boolean mask of region ``name`` (WT/TC/ET) in a label map."""
        return np.isin(labels, self.regions[name])


SCHEMES = {
    s.name: s
    for s in (
        LabelScheme("brats2018", {1: "NCR/NET", 2: "ED", 4: "ET"}, {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}),
        LabelScheme("brats2023", {1: "NCR", 2: "SNFH", 3: "ET"}, {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}),
        LabelScheme("msd", {1: "edema", 2: "non-enhancing tumor", 3: "enhancing tumor"},
                    {"WT": (1, 2, 3), "TC": (2, 3), "ET": (3,)}),
    )
}


def modality(name: str) -> str | None:
    """The canonical modality of a file tag or dataset.json name (``T1w`` -> ``t1``), None when not one."""
    return ALIASES.get(name.strip().lower())


def nifti_stem(path: Path) -> str | None:
    """File name without ``.nii.gz`` / ``.nii``, None for other files."""
    for ending in (".nii.gz", ".nii"):
        if path.name.lower().endswith(ending):
            return path.name[: -len(ending)]
    return None


def voxel_ml(spacing_xyz: tuple[float, ...]) -> float:
    """Volume of one voxel in millilitres from its spacing in mm."""
    return float(np.prod(spacing_xyz)) / 1000.0


def encode_regions(labels: np.ndarray, scheme: LabelScheme) -> np.ndarray:
    """A label map -> (3, ...) uint8 masks of the nested regions WT, TC, ET (the network's three outputs)."""
    return np.stack([scheme.region(labels, r) for r in REGIONS]).astype(np.uint8)


def region_labels(scheme: LabelScheme) -> tuple[int, int, int]:
    """The label each region contributes when decoding: (WT \\ TC, TC \\ ET, ET), e.g. (2, 1, 4) for 2018."""
    wt, tc, et = (scheme.regions[r] for r in REGIONS)
    return (next(v for v in wt if v not in tc), next(v for v in tc if v not in et), et[0])


def decode_regions(regions: np.ndarray, scheme: LabelScheme) -> np.ndarray:
    """(3, ...) boolean WT/TC/ET masks -> a label map (uint8): WT \\ TC edema, TC \\ ET core, ET enhancing. The
    nesting is enforced top-down: TC counts only inside WT, ET only inside TC (as nnU-Net's region decoding)."""
    edema, core, enhancing = region_labels(scheme)
    wt = regions[0].astype(bool)
    tc = wt & regions[1].astype(bool)
    et = tc & regions[2].astype(bool)
    out = np.zeros(wt.shape, dtype=np.uint8)
    out[wt] = edema
    out[tc] = core
    out[et] = enhancing
    return out
