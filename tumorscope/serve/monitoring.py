"""Drift monitoring: live inputs and outputs of each model compared with the reference saved in its bundle
(``reference.json``, :mod:`tumorscope.bundle.reference`).

After each prediction the app calls :meth:`DriftMonitor.observe` with the per-slice features of that input
(:func:`features_for_segmentation` / :func:`features_for_classification`); :meth:`DriftMonitor.report` compares
the last ``window`` slices of every feature with the reference by the population stability index and the
two-sample Kolmogorov-Smirnov test. ``GET /v1/monitoring`` returns the report; ``/metrics`` exposes it as gauges.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tumorscope.bundle.reference import (
    features_for_classification,
    features_for_segmentation,
    ks,
    psi,
    reference_values,
)

__all__ = ["DEFAULT_WINDOW", "KS_PVALUE", "MIN_LIVE", "MIN_LIVE_PSI", "PSI_DRIFT", "DriftMonitor",
           "features_for_classification", "features_for_segmentation"]

DEFAULT_WINDOW = 500  # live values kept per model and feature (the most recent slices / images)
# A PSI above 0.25 is the usual reading of a significant shift (below 0.1: stable; 0.1-0.25: moderate).
PSI_DRIFT = 0.25
# A KS p-value below 0.01: the live values are unlikely to come from the reference distribution. Slices of one
# volume are not independent, so with few inputs in the window the test flags differences between patients too.
KS_PVALUE = 0.01
# Fewer live values than this: the statistics are reported but never flagged (too noisy to act on).
MIN_LIVE = 30
# PSI flags only from this many live values: its sampling noise is large on small samples. Measured on
# same-distribution samples against a 500-value reference (10 bins): PSI > 0.25 in ~65% of draws of 30 live
# values, 2-3% of 100, none of 200 (KS at p < 0.01 stays near its nominal 1% at every size).
MIN_LIVE_PSI = 200


@dataclass
class _ModelState:
    reference: dict[str, Any] | None = None
    live: dict[str, deque[float]] = field(default_factory=dict)
    inputs: deque[int] = field(default_factory=deque)  # per row in the window: which observe call it came from
    rows: int = 0  # slices / images observed since the start (or the last reset)
    calls: int = 0
    version: int = 0  # bumped by every change; the cached report is for one version
    cached: tuple[int, dict[str, Any]] | None = None


class DriftMonitor:
    """Rolling windows of live feature values per model, compared with each model's reference. Thread-safe:
    the app's request threads and job workers observe while ``/metrics`` reports."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window
        self._lock = threading.Lock()
        self._models: dict[str, _ModelState] = {}

    def observe(self, model: str, reference: dict[str, Any] | None, features: Mapping[str, Any]) -> None:
        """Add one input's per-slice ``features`` (name -> values, one per slice or image; non-finite values are
        skipped) for ``model``, whose bundle's reference is ``reference`` (None: the bundle has none)."""
        arrays = {name: np.asarray(v, dtype=np.float64).ravel() for name, v in features.items()}
        rows = max((len(a) for a in arrays.values()), default=0)
        with self._lock:
            state = self._models.setdefault(model, _ModelState(inputs=deque(maxlen=self.window)))
            state.reference = reference  # the latest: a reinstalled bundle may bring a new one
            for name, a in arrays.items():
                state.live.setdefault(name, deque(maxlen=self.window)).extend(a[np.isfinite(a)].tolist())
            state.inputs.extend([state.calls] * min(rows, self.window))
            state.rows += rows
            state.calls += 1
            state.version += 1

    def reset(self, model: str | None = None) -> None:
        """Forget the live values of ``model`` (e.g. replaced by a new bundle), or of every model."""
        with self._lock:
            if model is None:
                self._models.clear()
            else:
                self._models.pop(model, None)

    def report(self) -> dict[str, Any]:
        """model -> {"reference": bool, "n_live" (slices in the window), "n_inputs" (inputs they came from),
        "n_observed" (slices since the start), "reference_inputs" (volumes / images the reference came from, None
        when unknown), "drift" (any feature drifting), "features": {name: {"n_live", "n_reference", "psi", "ks",
        "ks_pvalue", "drift"}}}; statistics are None without a reference or live values. ``drift``: KS p <
        ``KS_PVALUE`` with ``MIN_LIVE`` live values, or PSI > ``PSI_DRIFT`` with ``MIN_LIVE_PSI``."""
        with self._lock:  # copy under the lock, compute outside it
            todo = {}
            out: dict[str, Any] = {}
            for name, state in self._models.items():
                if state.cached is not None and state.cached[0] == state.version:
                    out[name] = state.cached[1]
                else:
                    live = {k: np.fromiter(d, dtype=np.float64, count=len(d)) for k, d in state.live.items()}
                    todo[name] = (state.version, state.reference, live, state.rows, len(set(state.inputs)))
        for name, (version, reference, live, rows, inputs) in todo.items():
            out[name] = _model_report(reference, live, rows, self.window) | {"n_inputs": inputs}
            with self._lock:
                current = self._models.get(name)
                if current is not None and current.version == version:
                    current.cached = (version, out[name])
        return copy.deepcopy({name: out[name] for name in sorted(out)})  # callers may edit theirs, not the cache


def _model_report(reference: dict[str, Any] | None, live: dict[str, np.ndarray], rows: int,
                  window: int) -> dict[str, Any]:
    names = sorted(set(live) | set(reference["features"] if reference else ()))
    features = {name: _feature_report(reference, name, live.get(name, np.zeros(0))) for name in names}
    return {"reference": reference is not None, "n_live": min(rows, window), "n_observed": rows,
            "reference_inputs": reference.get("n_inputs") if reference else None,
            "drift": any(f["drift"] for f in features.values()), "features": features}


def _feature_report(reference: dict[str, Any] | None, name: str, live: np.ndarray) -> dict[str, Any]:
    ref = reference_values(reference, name) if reference else None
    n_ref = int(reference["features"][name]["n"]) if reference and ref is not None else 0
    row: dict[str, Any] = {"n_live": int(live.size), "n_reference": n_ref, "psi": None, "ks": None,
                           "ks_pvalue": None, "drift": False}
    if ref is None or not live.size:
        return row
    row["psi"] = psi(ref, live)
    row["ks"], row["ks_pvalue"] = ks(ref, live)
    row["drift"] = bool(live.size >= MIN_LIVE and row["ks_pvalue"] < KS_PVALUE
                        or live.size >= MIN_LIVE_PSI and row["psi"] > PSI_DRIFT)
    return row
