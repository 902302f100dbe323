"""The plan of a BraTS region model, derived from the training cases' fingerprint in the manner of nnU-Net:
the target spacing (the finest candidate at which a case's field of view fits a CPU voxel budget), the median
brain box on that grid and a patch that fits the per-patch voxel budget (``plan_patch``), batch size, the
modality order and, for the record, the per-channel intensity statistics of the brain voxels."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tumorscope.data.brats import MODALITIES
from tumorscope.predict.volumetric import plan_patch

SPACINGS = (1.0, 1.5, 2.0, 2.5, 3.0)  # candidate isotropic target spacings, mm
# Voxels of a whole field of view at the target spacing that a 2-core CPU trains on in the 90-minute budget
# (measured on the 22 BraTS 2018 cases, docs/brats.md): at 2 mm (1.1 M voxels, brain box ~70x82x68, 64^3 patches)
# a fold got ~15 iterations a minute on the shared machine, too few; 2.5 mm (0.57 M, box ~56x66x54) with 48^3
# patches trains ~2.4x more iterations.
FOV_BUDGET = 600_000
PATCH_BUDGET = 48**3  # voxels per training patch


@dataclass
class BratsPlan:
    """What a BraTS model was trained on; saved as ``plan.json`` and in the bundle config (``brats.plan``)."""

    spacing: tuple[float, float, float]  # target (Z, Y, X) mm
    patch_size: tuple[int, int, int]
    batch_size: int
    median_spacing: tuple[float, float, float]  # of the original images
    median_shape: tuple[int, int, int]  # original grid
    median_box: tuple[int, int, int] = (0, 0, 0)  # brain box on the target grid
    modalities: tuple[str, ...] = MODALITIES
    intensity: dict[str, dict[str, float]] = field(default_factory=dict)  # modality -> median brain mean / std
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BratsPlan:
        def t(key: str, kind: type = float) -> tuple[Any, ...]:
            return tuple(kind(v) for v in d[key])

        return cls(t("spacing"), t("patch_size", int), int(d["batch_size"]), t("median_spacing"),  # type: ignore[arg-type]
                   t("median_shape", int), t("median_box", int), tuple(d.get("modalities", MODALITIES)),  # type: ignore[arg-type]
                   dict(d.get("intensity", {})), list(d.get("notes", [])))


def target_spacing(shapes: np.ndarray, spacings: np.ndarray, budget: int = FOV_BUDGET) -> float:
    """The finest candidate spacing at which the median field of view (shape x spacing, mm) holds at most
    ``budget`` voxels (the coarsest candidate when none does)."""
    extent = np.median(np.asarray(shapes, float) * np.asarray(spacings, float), axis=0)
    return next((s for s in SPACINGS if float(np.prod(extent / s)) <= budget), SPACINGS[-1])


def make_brats_plan(shapes: list[tuple[int, ...]], spacings: list[tuple[float, ...]], batch_size: int,
                    max_edge: int = 128, budget: int = FOV_BUDGET) -> BratsPlan:
    """The spacing part of the plan, from header shapes and spacings ((Z, Y, X) each); ``with_boxes`` adds
    the patch once the cases are prepared on that grid."""
    sp = target_spacing(np.array(shapes), np.array(spacings), budget)
    median_shape = tuple(int(v) for v in np.median(np.array(shapes), axis=0))
    median_spacing = tuple(float(v) for v in np.median(np.array(spacings), axis=0))
    notes = [f"target spacing {sp:g} mm: the finest of {SPACINGS} at which the median field of view holds "
             f"<= {budget} voxels; images cropped to the brain box, z-scored per channel over the brain, "
             "resampled trilinearly; probabilities upsampled back to the original grid before thresholding"]
    return BratsPlan((sp, sp, sp), (0, 0, 0), batch_size, median_spacing, median_shape, notes=notes,  # type: ignore[arg-type]
                     )


def with_boxes(plan: BratsPlan, boxes: list[tuple[int, ...]], max_edge: int = 128,
               voxel_budget: int = PATCH_BUDGET) -> BratsPlan:
    """The plan with the median brain box on the target grid and the patch planned from it."""
    median_box = tuple(int(v) for v in np.median(np.array(boxes), axis=0))
    patch = plan_patch(median_box, plan.spacing, max_edge, voxel_budget)
    batch = max(1, min(plan.batch_size, 2 * voxel_budget // int(np.prod(patch))))
    return BratsPlan(plan.spacing, patch, batch, plan.median_spacing, plan.median_shape, median_box,  # type: ignore[arg-type]
                     plan.modalities, plan.intensity, plan.notes)
