"""Heatmaps for the viewer: a prediction submitted with ``explain=<method>`` gets, beside its mask, the explain
stage's map of that method as a volume in the viewer's grid (:mod:`tumorscope.serve.volumes`).

Bounded work: only the slices :func:`~tumorscope.explain.run.slices_to_explain` picks are explained (those
with predicted tumor, else the most suspicious one), evenly thinned to at most ``MAX_SLICES``; the others
stay 0. The volume is the positive evidence scaled to [0, 1] by its largest value over all slices, so
colours compare across slices.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from typing import Any

import numpy as np

from tumorscope.bundle import Bundle
from tumorscope.explain.methods import METHODS, normalized
from tumorscope.predict.inputs import PredictInput
from tumorscope.serve.errors import Malformed
from tumorscope.serve.models import weights_sha256

MAX_SLICES = 16


def check_method(method: str, bundle: Bundle) -> None:
    """422 unless ``method`` is one of the explain stage's methods and ``bundle`` a 2-D segmentation model."""
    from tumorscope.predict.volumetric import is_volumetric

    if method not in METHODS:
        raise Malformed(f"explain: unknown method {method!r}; choose from {', '.join(METHODS)}")
    if bundle.task != "segmentation" or is_volumetric(bundle.model):
        raise Malformed(f"explain: heatmaps are made for 2-D segmentation models; {bundle.name} is not one")


class Heatmaps:
    """One explainer per model, on its own copy of the network: Grad-CAM keeps hooks on the network it
    explains and gradients accumulate in it, which must not touch the network that predictions share. One
    explanation per model at a time."""

    def __init__(self) -> None:
        self._explainers: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}
        self._lock = threading.Lock()

    def _explainer(self, bundle: Bundle) -> tuple[Any, threading.Lock]:
        from tumorscope.explain.evaluate import explainer_for

        key = (bundle.name, weights_sha256(bundle))
        with self._lock:
            if key not in self._explainers:
                own = replace(bundle, _model=copy.deepcopy(bundle.model))
                self._explainers[key] = (explainer_for(own), threading.Lock())
            return self._explainers[key]

    def volume(self, bundle: Bundle, inp: PredictInput, method: str) -> tuple[np.ndarray, list[int]]:
        """(N, Y, X) float32 heatmap in [0, 1] of ``inp`` and the slices explained."""
        from tumorscope.explain.run import explain_slices

        explainer, lock = self._explainer(bundle)
        with lock:
            idx, raw, _ = explain_slices(explainer, bundle, inp, method, MAX_SLICES)
        heat = np.zeros(inp.slices.shape[:3], dtype=np.float32)
        heat[idx] = raw
        return normalized(heat), [int(i) for i in idx]
