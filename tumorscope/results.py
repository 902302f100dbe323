"""One results schema: an :class:`Estimate` (a value with its confidence interval) and a :class:`MetricsReport`
(per-task metrics, per-case rows, confusion matrix, calibration, how the CIs were made), shared by
segmentation, classification and explanation results.

``MetricsReport.to_json`` writes the canonical ``estimates`` block (``{"value", "low", "high", "n", "unit"}`` per
metric) and, beside it, the keys older readers look for (flat values, ``<name>_ci95`` / ``ci95{}`` intervals).
``MetricsReport.from_json`` reads every shape tumorscope has written:

- segmentation and cross-validation summaries: ``"dice_mean": v, "dice_ci95": [low, high]`` (``<key>_ci95``,
  matched to ``<key>``, ``<key>_mean`` or ``<key>_mean_mm``), also a bundle's ``headline_metrics``;
- classification: ``"accuracy": v, "ci95": {"accuracy": [low, high]}``;
- explanation faithfulness: ``{"mean": v, "ci95": [low, high], "n": n}`` (or ``{"value", "ci95"}``) per method.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError

SCHEMA = "tumorscope.metrics/2"
PER_CASE_KEY = {"segmentation": "per_patient", "classification": "predictions"}
_STRUCTURED = {"schema", "task", "estimates", "ci", "ci95", "ci_unit", "n_boot", "classes", "per_class",
               "confusion_matrix", "calibration_bins", "per_patient", "predictions"}
_MEAN_SUFFIXES = ("_mean_mm", "_mean")


def _num(v: Any) -> float | None:
    """A JSON number as float (None stays None: "not given"; NaN stays NaN: "undefined")."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TumorscopeError(f"not a number: {v!r}")
    return float(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_ci(obj: Any) -> tuple[float | None, float | None]:
    """(low, high) of an interval written as ``[low, high]`` or ``{"low", "high"}``."""
    if isinstance(obj, list | tuple) and len(obj) == 2:
        return _num(obj[0]), _num(obj[1])
    if isinstance(obj, Mapping) and "low" in obj and "high" in obj:
        return _num(obj["low"]), _num(obj["high"])
    raise TumorscopeError(f"not a confidence interval: {obj!r}")


def _fmt(v: float | None, digits: int) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


@dataclass(frozen=True)
class Estimate:
    """A metric's value with its confidence interval (``low``/``high``; None: no interval was computed),
    ``n`` independent units behind it and what they are (``unit``: patient, image, ...)."""

    value: float
    low: float | None = None
    high: float | None = None
    n: int | None = None
    unit: str | None = None

    @classmethod
    def of(cls, value: float, ci: Sequence[float | None], n: int | None = None, unit: str | None = None) -> Estimate:
        """An estimate with the interval ``ci`` = [low, high]."""
        return cls(value, ci[0], ci[1], n, unit)

    @property
    def ci(self) -> tuple[float, float] | None:
        return None if self.low is None or self.high is None else (self.low, self.high)

    def format(self, digits: int = 3) -> str:
        """``0.812 [0.790, 0.840]``, or the value alone without an interval."""
        ci = self.ci
        text = _fmt(self.value, digits)
        return text if ci is None else f"{text} [{_fmt(ci[0], digits)}, {_fmt(ci[1], digits)}]"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value}
        for key in ("low", "high", "n", "unit"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_json(cls, obj: Any, n: int | None = None, unit: str | None = None) -> Estimate:
        """Read a number, ``{"value", "low", "high", "n", "unit"}``, ``{"value"|"mean", "ci95": [low, high]}``."""
        if isinstance(obj, int | float) and not isinstance(obj, bool):
            return cls(float(obj), n=n, unit=unit)
        if not is_estimate(obj):
            raise TumorscopeError(f"not an estimate: {obj!r}")
        value = _num(obj.get("value", obj.get("mean")))
        low, high = parse_ci(obj["ci95"]) if obj.get("ci95") is not None else (_num(obj.get("low")), _num(obj.get("high")))
        return cls(math.nan if value is None else value, low, high, obj.get("n", n), obj.get("unit", unit))

    def legacy(self) -> dict[str, Any]:
        """The explanation results' shape: ``{"mean", "ci95", "n"}``."""
        return {"mean": self.value, "ci95": [self.low, self.high], "n": self.n}


def is_estimate(obj: Any) -> bool:
    """Whether ``obj`` is a JSON estimate (a dict with a value/mean and an interval or the new keys)."""
    return isinstance(obj, Mapping) and ("value" in obj or "mean" in obj) and (
        "ci95" in obj or "low" in obj or "high" in obj or "unit" in obj or set(obj) <= {"value", "n"})


def legacy_ci_key(name: str) -> str:
    """``dice_mean`` -> ``dice_ci95``, ``hd95_mean_mm`` -> ``hd95_ci95``, ``slice_auc`` -> ``slice_auc_ci95``."""
    for suffix in _MEAN_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix) + "_ci95"
    return name + "_ci95"


@dataclass
class CIMethod:
    """How the intervals of a report were made."""

    method: str = "percentile bootstrap"
    level: float = 0.95
    unit: str | None = None  # what was resampled: patient, image, ...
    n_boot: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "level": self.level, "unit": self.unit, "n_boot": self.n_boot}


@dataclass
class MetricsReport:
    """Everything an evaluation measured; ``report/`` draws it, ``bundle/`` cards and ``compare`` quote it.

    ``metrics``: every scalar metric as an :class:`Estimate`; ``counts``: integer facts (images, patients,
    slices); ``per_case``: one row per patient (segmentation) or image (classification); ``groups``: named sets
    of estimates (explanation: one per method, plus ``baselines``); ``extra``: every other key, kept as given.
    """

    task: str | None = None
    metrics: dict[str, Estimate] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    per_class: dict[str, dict[str, float | None]] = field(default_factory=dict)
    confusion_matrix: list[list[int]] | None = None
    calibration_bins: list[dict[str, float]] = field(default_factory=list)
    per_case: list[dict[str, Any]] = field(default_factory=list)
    ci: CIMethod = field(default_factory=CIMethod)
    groups: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    kind: str = "evaluation"  # evaluation | explanation
    extra: dict[str, Any] = field(default_factory=dict)

    def estimate(self, name: str) -> Estimate | None:
        return self.metrics.get(name)

    def value(self, name: str, default: float = math.nan) -> float:
        est = self.metrics.get(name)
        return default if est is None else est.value

    @property
    def per_case_key(self) -> str:
        return PER_CASE_KEY.get(self.task or "", "per_case")

    # -- writing --------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The metrics.json body: the ``estimates`` block plus the keys of the earlier format (see module doc)."""
        if self.kind == "explanation":
            return self._explanation_json()
        out: dict[str, Any] = {"schema": SCHEMA, "task": self.task}
        out.update({name: est.value for name, est in self.metrics.items()})
        out.update(self.counts)
        with_ci = {name: [est.low, est.high] for name, est in self.metrics.items() if est.ci is not None}
        if self.task == "classification":
            out.update({"ci95": with_ci, "ci_unit": self.ci.unit, "n_boot": self.ci.n_boot})
        else:
            out.update({legacy_ci_key(name): ci for name, ci in with_ci.items()})
        if self.classes:
            out["classes"] = list(self.classes)
        if self.per_class:
            out["per_class"] = self.per_class
        if self.confusion_matrix is not None:
            out["confusion_matrix"] = self.confusion_matrix
        if self.calibration_bins:
            out["calibration_bins"] = self.calibration_bins
        out["estimates"] = {name: est.to_json() for name, est in self.metrics.items()}
        out["ci"] = self.ci.to_json()
        out.update(self.extra)
        if self.per_case or self.task == "segmentation":
            out[self.per_case_key] = self.per_case
        return out

    def _explanation_json(self) -> dict[str, Any]:
        out = {"schema": SCHEMA, "task": self.task, **self.counts, **self.extra}
        methods = {k: dict(v) for k, v in (self.extra.get("methods") or {}).items()}
        baselines = dict(self.extra.get("baselines") or {})
        for group, estimates in self.groups.items():
            target = baselines if group == "baselines" else methods.setdefault(group, {})
            target.update({name: est.legacy() for name, est in estimates.items()})
        out.update(methods=methods, baselines=baselines)
        return out

    def write(self, path: str | Path) -> None:
        from tumorscope.atomic import write_json

        write_json(path, self.to_json())

    # -- reading --------------------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> MetricsReport:
        """Read a metrics.json / test_metrics.json / cv_summary.json / explain_metrics.json body (any version)."""
        if not isinstance(obj, Mapping):
            raise TumorscopeError(f"metrics must be a JSON object, not {type(obj).__name__}")
        if isinstance(obj.get("methods"), Mapping) and "baselines" in obj:
            return cls._explanation(obj)
        task = obj.get("task")
        counts = {k: v for k, v in obj.items() if _is_int(v) and k not in _STRUCTURED}
        ci_block: Mapping[str, Any] = obj["ci"] if isinstance(obj.get("ci"), Mapping) else {}
        ci = CIMethod(ci_block.get("method", "percentile bootstrap"), float(ci_block.get("level", 0.95)),
                      ci_block.get("unit", obj.get("ci_unit", "patient" if task == "segmentation" else None)),
                      ci_block.get("n_boot", obj.get("n_boot")))
        n = counts.get("n_patients", counts.get("n"))
        metrics = {k: Estimate(float(v)) for k, v in obj.items() if isinstance(v, float) and k not in _STRUCTURED}
        cis = _legacy_cis(obj, metrics)
        metrics = {k: Estimate(e.value, *cis[k], n=n, unit=ci.unit) if k in cis else e for k, e in metrics.items()}
        if isinstance(obj.get("estimates"), Mapping):  # format 2: the estimates block is the reference
            metrics.update({k: Estimate.from_json(v) for k, v in obj["estimates"].items()})
        used = set(metrics) | set(counts) | _STRUCTURED | {legacy_ci_key(k) for k in cis}
        per_case = obj.get(PER_CASE_KEY.get(task or "", "")) or obj.get("per_patient") or obj.get("predictions") or []
        return cls(
            task=task, metrics=metrics, counts=counts, classes=list(obj.get("classes") or []),
            per_class=dict(obj.get("per_class") or {}), confusion_matrix=obj.get("confusion_matrix"),
            calibration_bins=list(obj.get("calibration_bins") or []), per_case=list(per_case), ci=ci,
            extra={k: v for k, v in obj.items() if k not in used},
        )

    @classmethod
    def _explanation(cls, obj: Mapping[str, Any]) -> MetricsReport:
        groups = {name: {k: Estimate.from_json(v, unit="patient") for k, v in m.items() if is_estimate(v)}
                  for name, m in {**obj["methods"], "baselines": obj.get("baselines") or {}}.items()}
        counts = {k: v for k, v in obj.items() if _is_int(v)}
        extra = {k: v for k, v in obj.items() if k not in counts and k not in ("schema", "task")}
        return cls(task=obj.get("task"), counts=counts, groups=groups, kind="explanation", extra=extra,
                   ci=CIMethod(unit="patient", n_boot=obj.get("n_boot")))

    @classmethod
    def read(cls, path: str | Path) -> MetricsReport:
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise TumorscopeError(f"cannot read ({exc})", path) from exc
        except TumorscopeError as exc:
            raise TumorscopeError(exc.problem, path) from exc


def _legacy_cis(obj: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    """Intervals written as ``ci95: {name: [low, high]}`` or as ``<name>_ci95: [low, high]`` keys."""
    cis = {k: parse_ci(v) for k, v in (obj.get("ci95") or {}).items()} if isinstance(obj.get("ci95"), Mapping) else {}
    for key, v in obj.items():
        if key.endswith("_ci95") and isinstance(v, list):
            base = key.removesuffix("_ci95")
            target = next((c for c in (base, base + "_mean", base + "_mean_mm") if c in metrics), None)
            if target is not None:
                cis[target] = parse_ci(v)
    return {k: v for k, v in cis.items() if k in metrics}
