"""What ``--augment none|light|default|heavy[|strong]`` means, once per task, as one table each.

- segmentation (2-D slices, image + mask): left-right flip; affine (rotation +-0.26 rad, scale +-12 %, shift
  +-6 %) with probability 0.5 (light) / 0.7; gamma 0.75-1.35 and gain x0.85-1.15, each with probability 0.3;
  heavy adds an elastic field and Gaussian noise (sd 0.03, probability 0.2).
- volumetric (3-D patches, image + mask): a flip along each axis, each with probability 0.5, and gain x0.85-1.15
  with probability 0.3, at light and default; heavy adds nnU-Net's spatial and intensity set, kept small: an
  affine (rotation +-0.26 rad about each axis, scale +-15 %) with probability 0.3 and gamma 0.75-1.35 with
  probability 0.3.
- classification (2-D images): left-right flip; affine (rotation +-0.2 rad, scale +-10 %, shift +-10 px) with
  probability 0.5 (light) / 0.6; gamma 0.8-1.25 (log scale) with probability 0.3 (not light); heavy adds an
  up-down flip and quarter turns; strong widens the affine (probability 0.8, +-0.35 rad, +-20 %, +-16 px),
  raises gamma's probability to 0.5 and adds contrast (x0.8-1.25) and brightness (+-10 % of the range).
- contrastive (pretraining views): crop 35-100 % of the area and resize back, classification's heavy set, then
  scale x0.6-1.4, shift +-0.4 sd and Gaussian noise of 0.05 sd.

Intended changes from the four augmenters these replace (same effects and ranges otherwise): every draw is
per sample (the 3-D flips were one draw per batch); the 2-D segmentation flip is an exact mirror before the
affine instead of part of its matrix, and heavy's elastic field is a second resampling after the affine
instead of added to its grid; contrastive noise is scaled by the standard deviation after the
contrast jitter rather than before; the random streams differ, so a seed gives other (still reproducible) draws.
"""

from __future__ import annotations

from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.augment.base import Compose, Transform
from tumorscope.preprocess.augment.intensity import ContrastBrightness, Gain, Gamma, Noise, ScaleShift
from tumorscope.preprocess.augment.spatial import Affine, CropResize, Elastic, Flip, Rot90

LEVELS = ("none", "light", "default", "heavy")


def _segmentation(p_affine: float, heavy: bool = False) -> tuple[Transform, ...]:
    geometry: tuple[Transform, ...] = (Flip(-1), Affine(p_affine, rotation=0.26, scaling=0.12, shift=0.06))
    intensity: tuple[Transform, ...] = (Gamma(0.3, 0.75, 1.35), Gain(0.3, 0.85, 1.15))
    return geometry + (Elastic(0.03, 6),) * heavy + intensity + (Noise(0.2, 0.03),) * heavy


def _classification(p_affine: float, p_gamma: float, heavy: bool = False) -> tuple[Transform, ...]:
    flips: tuple[Transform, ...] = (Flip(-1), Flip(-2), Rot90(0.5)) if heavy else (Flip(-1),)
    gamma: tuple[Transform, ...] = (Gamma(p_gamma, 0.8, 1.25, log=True),) if p_gamma else ()
    return flips + (Affine(p_affine, rotation=0.2, scaling=0.1, shift_px=10),) + gamma


_VOLUMETRIC: tuple[Transform, ...] = (Flip(-3), Flip(-2), Flip(-1), Gain(0.3, 0.85, 1.15))

TABLES: dict[str, dict[str, tuple[Transform, ...]]] = {
    "segmentation": {"none": (), "light": _segmentation(0.5), "default": _segmentation(0.7),
                     "heavy": _segmentation(0.7, heavy=True)},
    "volumetric": {"none": (), "light": _VOLUMETRIC, "default": _VOLUMETRIC,
                   "heavy": (Affine(0.3, rotation=0.26, scaling=0.15), *_VOLUMETRIC, Gamma(0.3, 0.75, 1.35))},
    "classification": {
        "none": (), "light": _classification(0.5, 0.0), "default": _classification(0.6, 0.3),
        "heavy": _classification(0.6, 0.3, heavy=True),
        "strong": (Flip(-1), Affine(0.8, rotation=0.35, scaling=0.2, shift_px=16), Gamma(0.5, 0.8, 1.25, log=True),
                   ContrastBrightness(0.5, (0.8, 1.25), 0.1)),
    },
    "contrastive": {"default": (CropResize((0.35, 1.0)), *_classification(0.6, 0.3, heavy=True), ScaleShift(0.4, 0.4),
                                Noise(1.0, 0.05, relative=True))},
}


def levels(task: str) -> tuple[str, ...]:
    """The ``--augment`` choices of ``task``."""
    return tuple(TABLES[task])


def augmenter(task: str, level: str, seed: int = 0) -> Compose:
    """The transforms of ``task`` at ``level``, drawing from a generator seeded with ``seed``."""
    if task not in TABLES:
        raise ValueError(f"no augmentation table for task {task!r}; tables: {', '.join(TABLES)}")
    if level not in TABLES[task]:
        raise TumorscopeError(f"--augment {level!r}: choose from {', '.join(TABLES[task])} for {task}")
    return Compose(TABLES[task][level], seed=seed)
