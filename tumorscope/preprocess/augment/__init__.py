"""Training-time augmentation: one small transform per effect, random draws apart from their application.

``augmenter(task, level, seed)`` gives the transforms a task's ``--augment LEVEL`` stands for (one table per
task in :mod:`.levels`); calling it on a batch draws per-sample parameters and applies them to the image and,
for geometric effects, the mask.
"""

from tumorscope.preprocess.augment.base import Compose, Params, Transform
from tumorscope.preprocess.augment.intensity import ContrastBrightness, Gain, Gamma, Noise, ScaleShift
from tumorscope.preprocess.augment.levels import LEVELS, TABLES, augmenter, levels
from tumorscope.preprocess.augment.spatial import Affine, CropResize, Elastic, Flip, Rot90

__all__ = [
    "LEVELS", "TABLES", "Affine", "Compose", "ContrastBrightness", "CropResize", "Elastic", "Flip", "Gain", "Gamma",
    "Noise", "Params", "Rot90", "ScaleShift", "Transform", "augmenter", "levels",
]
