"""``tune``: an Optuna study over ``train`` options, kept in ``TUNE_DIR/study.db`` (SQLite) and resumable.

Rerunning the same command continues the study: finished trials are kept and counted towards ``--trials``; a trial
that a kill interrupted is run again with the same options in its own folder, where ``cv`` keeps its finished folds
and resumes the fold in progress from its checkpoint. One process at a time per folder (a lock file).
"""

from __future__ import annotations

import fcntl
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tumorscope.atomic import write_json, write_text
from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig, shell_join, to_argv
from tumorscope.options.describe import read_json
from tumorscope.report.tune import TUNE_SCHEMA, TUNE_SUMMARY, history_plot, importance_plot
from tumorscope.train.tune_objective import (
    DEFAULT_METRICS,
    apply_options,
    default_direction,
    development_folds,
    load_objective,
    metric_value,
    trial_config,
)
from tumorscope.train.tune_space import Space, default_space, read_space, suggest

log = logging.getLogger(__name__)

SEARCHES = ("grid", "random", "bayes")
STUDY = "tune"  # the study's name in study.db


@dataclass
class TuneOptions:
    """How to search (``--trials`` and ``--timeout`` may change between runs of one study; the rest may not)."""

    search: str = "bayes"
    trials: int = 20
    timeout: float | None = None
    metric: str = ""  # default: val_dice (segmentation), val_auc (classification)
    direction: str = ""  # default: from the metric's name
    inner_folds: int = 3
    folds_per_trial: int | None = None  # default: all inner folds
    space: str | None = None  # a TOML/YAML file; default: the model's space
    objective: str | None = None  # "module:function"; default: cross-validation


class _Failed(TumorscopeError):
    """A trial whose training refused its options: recorded as failed, the search goes on."""


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TumorscopeError("another `tumorscope tune` is running on this folder", folder) from None
        yield


def _settings(base: TrainConfig, opts: TuneOptions, space: Space) -> dict[str, Any]:
    """What defines the study (stored as tune_config.json; a later run must give the same; --threads may change)."""
    metric = opts.metric or DEFAULT_METRICS[base.task]
    return {"base": {**base.to_dict(), "out": None, "threads": None}, "search": opts.search, "metric": metric,
            "direction": opts.direction or default_direction(metric), "inner_folds": opts.inner_folds,
            "folds_per_trial": opts.folds_per_trial or opts.inner_folds, "space": space.to_dict(),
            "objective": opts.objective}


def _check_same(path: Path, settings: dict[str, Any]) -> None:
    if not path.exists():
        return
    saved = read_json(path)
    changed = [k for k in settings if saved.get(k) != settings[k]]
    if changed:
        raise TumorscopeError(f"this folder holds a study with other {', '.join(changed)}: rerun it with the same "
                              "options (only --trials and --timeout may change) or give another --out", path.parent)


def _sampler(search: str, space: Space, seed: int, trials: int) -> Any:
    import optuna

    if search == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)  # type: ignore[arg-type]
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(3, min(10, trials // 4)))


def _counted(trial: Any) -> bool:
    """Whether a trial used up one of ``--trials`` (an interrupted one did not: it is run again)."""
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and not trial.user_attrs.get("interrupted"))


def _retry_interrupted(study: Any) -> None:
    """Trials left running by a killed run, or stopped by Ctrl-C, are failed and queued again, once each."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    storage, trials = study._storage, study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    for t in trials:
        if t.state == TrialState.RUNNING:
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            t = storage.get_trial(t._trial_id)
        if t.state == TrialState.FAIL and t.user_attrs.get("interrupted") and t.number not in retried:
            log.info("trial %d was interrupted: running it again", t.number)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                retry = RetryHeartbeatStaleTrialCallback(max_retry=None)
            retry(study, t)  # a WAITING copy: same options (and grid point), same user attributes (its folder)


def tune(base: TrainConfig, opts: TuneOptions, out: Path) -> dict[str, Any]:
    """Run (or continue) the study in ``out`` until it holds ``opts.trials`` finished trials or ``opts.timeout``
    seconds have passed; write the summary, the best config and the plots."""
    import optuna

    if opts.search not in SEARCHES:
        raise TumorscopeError(f"--search must be one of {', '.join(SEARCHES)}, got {opts.search!r}")
    if opts.trials < 1:
        raise TumorscopeError(f"--trials must be >= 1, got {opts.trials}")
    if opts.inner_folds < 2 or not 1 <= (opts.folds_per_trial or opts.inner_folds) <= opts.inner_folds:
        raise TumorscopeError("--inner-folds must be >= 2 and --folds-per-trial in 1..--inner-folds")
    space = read_space(opts.space) if opts.space else default_space(base.model, base.task)
    apply_options(base, {**{k: v[0] for k, v in space.grid().items()}, **space.fixed})  # names train knows
    objective_fn = load_objective(opts.objective)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials: one line of ours
    with _locked(out):
        settings = _settings(base, opts, space)
        _check_same(out / "tune_config.json", settings)
        splits = development_folds(base, out, opts.inner_folds)
        write_json(out / "tune_config.json", settings)  # once the folds could be cut
        folds = list(range(settings["folds_per_trial"]))
        storage = optuna.storages.RDBStorage(f"sqlite:///{(out / 'study.db').resolve()}")
        study = optuna.create_study(storage=storage, study_name=STUDY, direction=settings["direction"],
                                    load_if_exists=True)
        # seeded anew per run: a resumed random search must not replay the first run's draws
        study.sampler = _sampler(opts.search, space, base.seed + len(study.trials), opts.trials)
        _retry_interrupted(study)
        target = min(opts.trials, space.grid_size()) if opts.search == "grid" else opts.trials
        remaining = target - sum(_counted(t) for t in study.get_trials(deepcopy=False))

        def objective(trial: optuna.Trial) -> float:
            params = suggest(trial, space)
            trial.set_user_attr("interrupted", False)  # a retry copies its original's attributes
            trial_dir = out / str(trial.user_attrs.get("dir") or f"trials/{trial.number:04d}")
            trial.set_user_attr("dir", str(trial_dir.relative_to(out)))
            cfg = trial_config(base, params, splits, opts.inner_folds, trial_dir)
            try:
                summary = objective_fn(cfg, trial_dir, folds)
            except KeyboardInterrupt:
                trial.set_user_attr("interrupted", True)
                raise
            except _Failed:
                raise
            except TumorscopeError as exc:
                trial.set_user_attr("error", str(exc))
                log.warning("trial %d failed (%s): %s", trial.number, _show(params), exc)
                raise _Failed(exc.problem, exc.path) from exc
            value = metric_value(summary, settings["metric"])
            log.info("trial %d: %s = %.4f  (%s)", trial.number, settings["metric"], value, _show(params))
            return value

        def record(study: optuna.Study, _trial: Any) -> None:
            write_summary(study, base, settings, space, out, plots=False)

        if remaining > 0:
            log.info("%s search: %d trial(s) to run%s", opts.search, remaining,
                     f" within {opts.timeout:g} s" if opts.timeout else "")
            study.optimize(objective, n_trials=remaining, timeout=opts.timeout, catch=(_Failed,),
                           callbacks=[record])
        return write_summary(study, base, settings, space, out)


def _show(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def write_summary(study: Any, base: TrainConfig, settings: dict[str, Any], space: Space, out: Path,
                  plots: bool = True) -> dict[str, Any]:
    """tune_summary.json, best_config.json + best_command.txt and (``plots``) history.png / importance.png."""
    from optuna.trial import TrialState

    trials = [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
               "start": t.datetime_start.isoformat(timespec="seconds") if t.datetime_start else None,
               "duration_s": t.duration.total_seconds() if t.duration else None, "dir": t.user_attrs.get("dir"),
               **({"error": t.user_attrs["error"]} if "error" in t.user_attrs else {}),
               **({"interrupted": True} if t.user_attrs.get("interrupted") else {})}
              for t in study.get_trials(deepcopy=False)]
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    summary: dict[str, Any] = {"schema": TUNE_SCHEMA, **{k: settings[k] for k in (
        "search", "metric", "direction", "inner_folds", "folds_per_trial", "space")}, "trials": trials,
        "best": None, "importances": {}}
    if done:
        best = study.best_trial
        cfg = apply_options(base, {**best.params, **space.fixed, "out": "runs/tuned"})
        write_json(out / "best_config.json", cfg.to_dict())
        command = "tumorscope train " + shell_join(to_argv(cfg))
        write_text(out / "best_command.txt", command + "\n")
        summary.update(best={"number": best.number, "value": best.value, "params": {**best.params, **space.fixed}},
                       command=command, best_config="best_config.json")
        summary["importances"] = _importances(study) if plots else {}
    write_json(out / TUNE_SUMMARY, summary)
    if plots and done:
        history_plot(summary, out / "history.png")
        if summary["importances"]:
            importance_plot(summary, out / "importance.png")
    return summary


def _importances(study: Any) -> dict[str, float]:
    """fANOVA importances (empty until two finished trials differ in their score)."""
    import optuna
    from optuna.trial import TrialState

    if len({t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}) < 2:
        return {}

    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError):
        return {}
    return {k: float(v) for k, v in values.items() if v == v}

