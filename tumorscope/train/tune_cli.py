"""``tumorscope tune``: hyperparameter search over ``train`` options, scored on validation folds only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tumorscope.options import TrainConfig, add_arguments, parse_duration

_EPILOG = """\
examples:
  # Bayesian (TPE) search of the default U-Net space, fold 0 of a 5-fold split held out as test:
  tumorscope tune --task segmentation --data DIR --fold 0 --epochs 10 --search bayes --trials 20 --out tune/lgg
  # the same command again continues the study (finished trials are kept; an interrupted one is run again)
  # a grid over your own space (TOML or YAML), 2 h at most:
  tumorscope tune --task classification --data DIR --splits splits.json --space space.toml --search grid \\
      --timeout 2h --out tune/cls
  # train the best options found:
  tumorscope train --config tune/lgg/best_config.json --out runs/lgg_tuned

A search space file maps train options to ranges, choices or fixed values:
  lr = {low = 1e-4, high = 1e-2, log = true}
  width = [8, 16, 32]
  epochs = 10
Without --space each model has a default (docs/tune.md). The tune folder gets study.db (the Optuna study),
tune_splits.json (the validation folds), trials/NNNN/ (one cv folder per trial), tune_summary.json,
best_config.json, best_command.txt, history.png and importance.png; `tumorscope report --tune DIR` shows them."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="hyperparameter search (grid, random or Bayesian) scored on validation folds",
        description="Search train options with Optuna: each trial cross-validates the base options plus the "
        "trial's over patient-grouped folds of the base split's training and validation patients (its test "
        "patients are never used) and is scored by one metric of the pooled held-out folds. The study is kept "
        "in --out (SQLite) and resumes when the command is run again.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t = p.add_argument_group("search options")
    t.add_argument("--search", choices=("grid", "random", "bayes"), default="bayes",
                   help="grid (Optuna GridSampler), random (RandomSampler) or bayes (TPE) (default: %(default)s)")
    t.add_argument("--trials", type=int, default=20, metavar="N",
                   help="finished trials the study should hold (grid: at most the grid's size) (default: 20)")
    t.add_argument("--timeout", type=parse_duration, metavar="DURATION",
                   help="start no trial after this long, e.g. 90m (the trial running then finishes)")
    t.add_argument("--space", type=Path, metavar="FILE", help="search space (.toml / .yaml); default: the "
                   "model's own (svm, rf, gbm, logreg by name, other models by task)")
    t.add_argument("--metric", help="the score, from the trial's pooled validation-fold results "
                   "(default: val_dice for segmentation, val_auc for classification)")
    t.add_argument("--direction", choices=("maximize", "minimize"),
                   help="default: minimize for losses, errors and distances, else maximize")
    t.add_argument("--inner-folds", type=int, default=3, metavar="K",
                   help="patient-grouped folds of the training patients each trial is scored on (default: 3)")
    t.add_argument("--folds-per-trial", type=int, metavar="N",
                   help="train only the first N of them per trial (faster, noisier; default: all)")
    t.add_argument("--objective", metavar="MODULE:FUNCTION",
                   help="score trials with this function(config, folder, folds) -> results instead of `cv`")
    t.add_argument("--config", type=Path, metavar="JSON", help="base options from this config.json (options "
                   "given here override it)")
    add_arguments(p, TrainConfig, "tune")
    p.set_defaults(func=_cmd_tune)


def _cmd_tune(args: argparse.Namespace) -> int:
    from tumorscope.train.cli import config_from_args
    from tumorscope.train.tune_study import TuneOptions, tune

    base = config_from_args(args)
    opts = TuneOptions(search=args.search, trials=args.trials, timeout=args.timeout, metric=args.metric or "",
                       direction=args.direction or "", inner_folds=args.inner_folds,
                       folds_per_trial=args.folds_per_trial, space=str(args.space) if args.space else None,
                       objective=args.objective)
    out = Path(args.out)
    summary = tune(base, opts, out)
    print(json.dumps({k: summary[k] for k in ("search", "metric", "direction", "best")}, indent=2))
    print(f"{len(summary['trials'])} trial(s) in {out / 'study.db'}; best config: {out / 'best_config.json'} "
          f"(tumorscope train --config {out / 'best_config.json'} --out RUN)")
    return 0
