"""What one trial of ``tumorscope tune`` trains and how it is scored.

The base config's split (``--splits`` / ``--fold`` / a train-val split, as ``train`` chooses it) is cut once more:
its training and validation patients are divided into ``k`` patient-grouped folds (``tune_splits.json``); its
test patients are in none of them. A trial is the base config with the trial's options applied, cross-validated
over those folds by the function ``tumorscope cv`` runs, and scored by one metric of the pooled held-out results
of those folds (``cv_summary.json``): the test part of the base split is never read.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig
from tumorscope.results import is_estimate

log = logging.getLogger(__name__)

TUNE_SPLITS = "tune_splits.json"
Objective = Callable[[TrainConfig, Path, list[int]], dict[str, Any]]
DEFAULT_METRICS = {"segmentation": "val_dice", "classification": "val_auc"}
_LOWER_IS_BETTER = ("loss", "hd95", "error", "ece", "brier")
# per-image/patient rows, per-class and per-source results, CI settings: never the score of a whole trial
_SKIP = ("per_patient", "predictions", "per_fold", "per_case", "per_class", "pooled_by_source", "class_counts", "ci")


def development_folds(cfg: TrainConfig, tune_dir: Path, k: int) -> Path:
    """``tune_dir/tune_splits.json``: ``k`` patient-grouped folds of the base split's train and val patients
    (written once; later runs of the study reuse it)."""
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.splits import image_key, kfold, save_splits
    from tumorscope.train.data_split import choose_split

    path = tune_dir / TUNE_SPLITS
    if path.exists():
        return path
    ds = load_dataset(cfg.data)
    outer = choose_split(cfg, ds)
    keep = set(outer.images["train"]) | set(outer.images["val"])
    development = [s for s in ds.samples if image_key(s, ds.root) in keep]
    if not outer.groups["test"]:
        log.warning("the base split has no test part: tuning sees every patient (give --fold or --splits to keep "
                    "test patients out of it)")
    else:
        log.info("tuning on %d of %d patients/groups; the %d test ones are left out", len(outer.groups["train"])
                 + len(outer.groups["val"]), sum(len(g) for g in outer.groups.values()), len(outer.groups["test"]))
    save_splits(path, kfold(development, k=k, seed=cfg.seed, root=ds.root),
                made_by=f"tumorscope tune (inner {k}-fold of the train+val part of {cfg.splits or 'the base split'})")
    return path


def apply_options(base: TrainConfig, options: dict[str, Any]) -> TrainConfig:
    """``base`` with ``options`` (option names as in the config) set, checked as ``train`` checks them; for a
    classical model (``svm|rf|gbm|logreg``) a name that is no option is an estimator parameter (``--hparams``)."""
    names = {f.name for f in fields(TrainConfig)}
    extra = {k: v for k, v in options.items() if k not in names}
    if extra and base.classical:
        from tumorscope.classical.pipeline import estimator, parse_hparams

        hparams = parse_hparams(base.hparams) | extra
        estimator(base.model, hparams)  # an unknown parameter is refused here, before any trial runs
        options = {k: v for k, v in options.items() if k in names}
        options["hparams"] = ",".join(f"{k}={'none' if v is None else v}" for k, v in hparams.items())
    elif extra:
        raise TumorscopeError(f"the search space names {sorted(extra)[0]!r}, which is no option of "
                              "`tumorscope train`")
    return TrainConfig.from_dict({**base.to_dict(), **options})


def trial_config(base: TrainConfig, options: dict[str, Any], splits: Path, k: int, out: Path) -> TrainConfig:
    """The config a trial cross-validates: the base with its options, on the inner folds, into ``out``."""
    return apply_options(base, {**options, "splits": str(splits), "folds": k, "fold": None, "out": str(out)})


def cv_objective(cfg: TrainConfig, out: Path, folds: list[int]) -> dict[str, Any]:
    """The default trial: ``tumorscope cv``'s cross-validation over ``folds`` (finished folds are kept)."""
    from tumorscope.train.cv import cross_validate

    return cross_validate(cfg, out, only=folds)


def load_objective(spec: str | None) -> Objective:
    """``None``: :func:`cv_objective`; ``"package.module:function"``: that function (same arguments)."""
    if not spec:
        return cv_objective
    module, _, name = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise TumorscopeError(f"--objective {spec!r}: cannot import it ({exc})") from None
    if not callable(func):
        raise TumorscopeError(f"--objective {spec!r} is not a function")
    return func  # type: ignore[no-any-return]


def default_direction(metric: str) -> str:
    return "minimize" if any(word in metric.lower() for word in _LOWER_IS_BETTER) else "maximize"


def _scalars(d: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], float]]:
    for key, v in d.items():
        if key in _SKIP:
            continue
        if isinstance(v, int | float) and not isinstance(v, bool):
            yield (*path, key), float(v)
        elif is_estimate(v) and isinstance(v.get("value", v.get("mean")), int | float):
            yield (*path, key), float(v.get("value", v.get("mean")))
        elif isinstance(v, dict):
            yield from _scalars(v, (*path, key))


def metric_value(summary: dict[str, Any], metric: str) -> float:
    """``metric`` in a cross-validation summary: ``val_dice`` is the held-out ``dice`` (``dice_mean``), ``val_auc``
    the pooled ``auc_macro``; a name is looked for as given, without ``val_``, then with ``_mean`` / ``_macro``,
    at the top first, then in nested results (``pooled``, ``across_folds``' means)."""
    base = metric.removeprefix("val_")
    wanted = [metric, base, f"{base}_mean", f"{base}_macro"]
    found = sorted(_scalars(summary), key=lambda item: ("across_folds" in item[0], len(item[0])))
    for name in wanted:
        for path, value in found:
            if path[-1] == name or (len(path) > 1 and path[-1] == "mean" and path[-2] == name):
                return value
    names = sorted({p[-1] if p[-1] != "mean" else p[-2] for p, _ in found})
    raise TumorscopeError(f"--metric {metric!r} is not in the trial's results (found: {', '.join(names)})")
