"""``tumorscope train`` and ``tumorscope cv``."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar, cast

from tumorscope.bundle import WEIGHT_DTYPES
from tumorscope.errors import TumorscopeError
from tumorscope.options import PretrainConfig, SavedConfig, TrainConfig, add_arguments, to_argv
from tumorscope.options import config_from_args as options_from_args

C = TypeVar("C", bound=SavedConfig)
_CONFIG_HELP = ("take the options from this config.json (a run's, or a tune folder's best_config.json); options "
                "given on the command line override it")

_TRAIN_EPILOG = """\
examples:
  # the bundled lgg-flair-seg recipe (about 15 min on 2 cores):
  tumorscope train --task segmentation --data ../shared/data/lgg_mri_segmentation --model unet2d --out runs/lgg
  # one fold of a patient-grouped 5-fold CV (fold 0 is held out as test):
  tumorscope train --task segmentation --data DIR --fold 0 --out runs/lgg_f0
  # the best options a `tumorscope tune` found (docs/tune.md):
  tumorscope train --config tune/lgg/best_config.json --out runs/lgg_tuned
  # continue after a kill:
  tumorscope train --resume --out runs/lgg
  # two training processes (DDP, each --batch-size images per step: 2 x 16 per step; docs/distributed.md):
  tumorscope train --task segmentation --data DIR --nproc 2 --out runs/lgg_ddp
  # classification with transfer learning from a local checkpoint, first 2 stages frozen:
  tumorscope train --task classification --data DIR --model resnet18 --init other_run/bundle --freeze 2 --out runs/cls
  # fine-tune a segmentation model on reviewed cases (`tumorscope feedback export`, docs/feedback.md):
  tumorscope train --task segmentation --data feedback/ --init runs/lgg --lr 1e-3 --epochs 10 --out runs/lgg_ft
  # ... or from one member of an ensemble bundle (give the options that member was trained with):
  tumorscope train --task segmentation --data feedback/ --init lgg-flair-seg --init-member 0 --epochs 10 --out runs/ft

The run folder gets config.json, splits.json, metrics.csv, training_curves.png, checkpoint.pt (for --resume),
best.pt and bundle/ (what evaluate/predict/explain load)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model; writes a run folder with a loadable bundle",
        description="Train a segmentation or classification network with patient-level validation, best "
        "checkpoint by validation score, early stopping, atomic checkpoints and --resume.",
        epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p, TrainConfig, "train")
    p.add_argument("--config", type=Path, metavar="JSON", help=_CONFIG_HELP)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "cv", help="k-fold cross-validation grouped by patient, with mean +- sd and CIs",
        description="Train one model per fold (each fold's test patients never seen in training or model "
        "selection), then pool the held-out predictions: cv_summary.json in --out.",
    )
    add_arguments(p, TrainConfig, "cv")
    p.add_argument("--config", type=Path, metavar="JSON", help=_CONFIG_HELP)
    p.add_argument("--only-folds", type=int, nargs="*", help="run only these folds (resumable across calls)")
    p.set_defaults(func=_cmd_cv)

    p = sub.add_parser(
        "ensemble", help="combine trained runs (one split) into one ensemble bundle (mean probability)",
        description="Average the probabilities of runs that share one split (e.g. a FLAIR-only and a 3-sequence "
        "U-Net of the same CV fold). Post-processing is chosen on their validation patients; their test "
        "patients, if any, are scored into test_metrics.json. With --cv, RUN arguments are CV folders and every "
        "fold finished in all of them is ensembled, then pooled into cv_summary.json. Classifiers of different "
        "input sizes may be mixed: the ensemble reads images at the largest size and each smaller member "
        "resizes them to its own; every other preprocessing option (normalisation, crop, ...) must agree. "
        "The folds of a BraTS region CV (fold0 .. fold4) make nnU-Net's fold ensemble instead: no common split is "
        "needed, each post-processing size rule is the median of the folds' choices.",
        epilog="examples:\n"
        "  tumorscope ensemble runs/lgg_final runs/lgg_final_mri3 --out runs/lgg_final_ens\n"
        "  tumorscope ensemble --cv runs/lgg_cv_flair runs/lgg_cv_mri3 --out runs/lgg_cv_ens\n"
        "  tumorscope ensemble --cv runs/brain_192_s0 runs/brain_128_s0 --weights int8 --out runs/brain_mix\n"
        "  tumorscope ensemble runs/brats_cv/fold{0,1,2,3,4} --weights float16 --tta on --out runs/brats_bundle",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (or CV folders with --cv)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument("--cv", action="store_true", help="RUNs are CV folders: ensemble fold by fold")
    p.add_argument("--calibrate", action="store_true", help="classification: fit a softmax temperature on the "
                   "validation images (temperature scaling; lowers ECE, may cost a little macro AUC)")
    p.add_argument("--weights", default="float32", choices=WEIGHT_DTYPES, dest="weights_dtype",
                   help="how the bundle stores its weights: float16 halves the file, int8 (one scale per output "
                   "channel) quarters it, so more members fit a size limit; the weights are rounded before the "
                   "TTA choice and the test scores, so those are the stored model's (default: %(default)s)")
    p.add_argument("--tta", choices=("on", "off"), help="classification: switch mirror test-time augmentation on "
                   "or off instead of choosing it on the validation images (needed when the runs have none, e.g. "
                   "final models trained with --val-fraction 0); BraTS folds: the bundle's default")
    p.add_argument("--data", help="dataset folder (default: the one the first run was trained on)")
    p.set_defaults(func=_cmd_ensemble)

    p = sub.add_parser(
        "pretrain", help="self-supervised (contrastive) pretraining on unlabelled images, for --init",
        description="SimCLR-style contrastive pretraining of a classifier's encoder on any 2-D images (labels and "
        "masks ignored). Writes RUN/encoder.pt; fine-tune with `tumorscope train --init RUN`. Do not pretrain on "
        "the images your fine-tuned model will be tested on.",
        epilog="example (in-domain MRI pretraining for the brain 4-class set, ~25 min on 2 cores):\n"
        "  tumorscope pretrain --data ../shared/data/lgg_mri_segmentation --model resnet18 --width 32 --size 128 "
        "--out runs/ssl_lgg\n"
        "  tumorscope cv --task classification --data BRAIN/Training --model resnet18 --width 32 --size 128 "
        "--channels gray --init runs/ssl_lgg --out runs/brain_ssl_cv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p, PretrainConfig, "pretrain")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.set_defaults(func=_cmd_pretrain)


def _resumed(out: Path, config: type[C]) -> C:
    """The config of the run in ``out``, pointed at where the run is now (a moved run resumes in place)."""
    if not (out / "config.json").exists():
        raise TumorscopeError("cannot resume: no config.json in the run folder", out)
    return replace(cast(Any, config.load(out / "config.json")), out=str(out))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The training config of ``train`` / ``cv`` / ``tune`` arguments: ``--config``'s options (a run's or tune's
    config.json), then those given on the command line; checked before any data is read."""
    if getattr(args, "config", None):
        names = {f.name for f in fields(TrainConfig)}
        given = {k: v for k, v in vars(args).items() if k in names}  # options not given are not in ``args``
        return TrainConfig.from_dict({**TrainConfig.load(args.config).to_dict(), **given}, args.config)
    if not getattr(args, "data", None):
        raise TumorscopeError("--data DIR is required")
    return options_from_args(TrainConfig, args)


def run_training(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """One training run of ``cfg`` (imported on use: ``--help`` never pays for importing torch)."""
    from tumorscope.train.run import run_training as run

    return run(cfg, resume=resume)


def _cmd_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    cfg = _resumed(out, TrainConfig) if args.resume else config_from_args(args)
    if args.resume and getattr(args, "keep", None):
        raise TumorscopeError("--keep cannot change when resuming: the run keeps what it started with "
                              f"(--keep {cfg.keep})", out)
    if args.resume and getattr(args, "precise_bn", False):  # a finished run resumed with --precise-bn: only that step runs
        cfg = replace(cfg, precise_bn=True)
    if args.resume and hasattr(args, "nproc"):  # e.g. on another machine (the run then does not continue exactly)
        cfg = replace(cfg, nproc=args.nproc)
    from tumorscope.train.launch import launch, launched, local_processes

    if launched():  # a torchrun worker: the processes on this machine are torchrun's
        cfg = replace(cfg, nproc=local_processes())
    elif cfg.nproc > 1:  # re-launch as cfg.nproc torchrun workers
        return launch(cfg.nproc, _worker_argv(args, cfg), cfg.threads, quiet=not args.debug)
    summary = run_training(cfg, resume=args.resume)
    if summary:  # a multi-process run: rank 0 reports
        print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, list)}, indent=2))
        print(f"run folder: {out}  (bundle: {out / 'bundle'})")
    return 0


def _worker_argv(args: argparse.Namespace, cfg: TrainConfig) -> list[str]:
    """The command line of each torchrun worker of ``train``: without ``--nproc`` (torchrun would read it as its
    own ``--nproc-per-node``; a worker takes the process count from torchrun)."""
    if args.resume:
        worker = ["train", "--resume", "--out", cfg.out, *(["--precise-bn"] if cfg.precise_bn else [])]
    else:
        worker = ["train", *to_argv(replace(cfg, nproc=1))]
    return ["--debug", *worker] if args.debug else worker


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from tumorscope.train.ensemble import ensemble_cv, ensemble_runs

    tta = None if args.tta is None else args.tta == "on"
    if args.cv:
        summary = ensemble_cv(args.runs, args.out, args.data, args.calibrate, args.weights_dtype, tta)
    else:
        summary = ensemble_runs(args.runs, args.out, args.data, args.calibrate, args.weights_dtype, tta)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_patient"}, indent=2))
    print(f"ensemble written to {args.out}")
    return 0


def _cmd_cv(args: argparse.Namespace) -> int:
    from tumorscope.train.cv import cross_validate

    cfg = config_from_args(args)
    summary = cross_validate(cfg, Path(args.out), only=args.only_folds)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_patient"}, indent=2))
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from tumorscope.train.pretrain import pretrain

    out = Path(args.out)
    if args.resume:
        cfg = _resumed(out, PretrainConfig)
    elif not getattr(args, "data", None):
        raise TumorscopeError("--data DIR [DIR ...] is required")
    else:
        cfg = options_from_args(PretrainConfig, args)
    summary = pretrain(cfg, resume=args.resume)
    print(json.dumps(summary, indent=2))
    print(f"encoder: {out / 'encoder.pt'}  (fine-tune with: tumorscope train --init {out} ...)")
    return 0
