"""``tumorscope train`` and ``tumorscope cv``."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar, cast

from tumorscope.bundle import WEIGHT_DTYPES
from tumorscope.errors import TumorscopeError
from tumorscope.train.config import PretrainConfig, SavedConfig, TrainConfig, parse_duration

C = TypeVar("C", bound=SavedConfig)

_TRAIN_EPILOG = """\
examples:
  # the bundled lgg-flair-seg recipe (about 15 min on 2 cores):
  tumorscope train --task segmentation --data ../shared/data/lgg_mri_segmentation --model unet2d --out runs/lgg
  # one fold of a patient-grouped 5-fold CV (fold 0 is held out as test):
  tumorscope train --task segmentation --data DIR --fold 0 --out runs/lgg_f0
  # continue after a kill:
  tumorscope train --resume --out runs/lgg
  # classification with transfer learning from a local checkpoint, first 2 stages frozen:
  tumorscope train --task classification --data DIR --model resnet18 --init other_run/bundle --freeze 2 --out runs/cls

The run folder gets config.json, splits.json, metrics.csv, training_curves.png, checkpoint.pt (for --resume),
best.pt and bundle/ (what evaluate/predict/explain load)."""


def _add_options(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--task", choices=("segmentation", "classification"), default=d.task)
    p.add_argument("--data", metavar="DIR", help="dataset folder (any layout `datasets inspect` recognises)")
    p.add_argument("--model", default=d.model, help="network (see `tumorscope models list --architectures`)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate (cosine schedule)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--loss", help="segmentation: dice | dicece (default) | focal | dicefocal; "
                   "classification: ce (default) | focal")
    p.add_argument("--width", type=int, default=d.width, help="channels of the first network stage")
    p.add_argument("--size", type=int, default=d.size, help="network input size in pixels (square)")
    p.add_argument("--channels", help="flair | mri3 | gray | rgb | all (mri3 = pre-contrast, FLAIR, post-contrast); "
                   "default: flair for segmentation, rgb for classification")
    p.add_argument("--normalization", default=d.normalization, help="percentile | zscore | none")
    p.add_argument("--enhancement", default=d.enhancement, help="none | clahe | histeq | denoise")
    p.add_argument("--crop", default=d.crop, help="classification: none (default) | foreground (crop each image to "
                   "the square box around the body part before resizing)")
    p.add_argument("--augment", default=d.augment, help="none | light | default | heavy; classification also strong "
                   "(wider rotation/scale/shift, brightness and contrast)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="patients held out for validation (model selection); classification: 0 trains on every image "
                   "of the split's training part (all of them without --fold) and keeps the last epoch - the final "
                   "model after a cross-validation has measured the recipe")
    p.add_argument("--folds", type=int, default=d.folds)
    p.add_argument("--splits", metavar="JSON", help="use this splits.json instead of making a split")
    p.add_argument("--patience", type=int, default=d.patience,
                   help="early stopping (segmentation; classification with --keep best): epochs without a better "
                   "validation score (default %(default)s); the learning "
                   "rate follows a cosine schedule over --epochs, so a patience much shorter than --epochs can stop "
                   "on a lucky early score before the rate anneals (set it to --epochs to switch early stopping off)")
    p.add_argument("--time-limit", metavar="DURATION", help="wall-clock budget, e.g. 30m or 1h; stops after that epoch")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    p.add_argument("--no-bf16", dest="bf16", action="store_false",
                   help="train in float32 even where the CPU computes bfloat16 natively (AVX512-BF16 / AMX); "
                   "elsewhere float32 is used anyway, emulated bf16 being ~14x slower (TUMORSCOPE_BF16=1 forces it)")
    p.add_argument("--ema", type=float, metavar="DECAY", help="keep an exponential moving average of the weights "
                   "(e.g. 0.99 per step); validation, the best checkpoint and the bundle use the average (default 0: off)")
    p.add_argument("--keep", choices=("best", "last"),
                   help="classification: bundle the last epoch (default; no early stopping, validation is still "
                   "scored and logged) or the epoch with the best validation score (early stopping after --patience). "
                   "Measured: the last epoch beat the best-validation one for all 9 brain MRI and 6 BUSI networks tried "
                   "(docs/classification.md, rounds 14b, 14c, 16). --val-fraction 0 always keeps the last")
    p.add_argument("--precise-bn", action="store_true",
                   help="classification: after training, recompute the kept network's BatchNorm statistics over the "
                   "un-augmented training images (training leaves averages of augmented, mixed batches); --resume of "
                   "a finished run with --precise-bn does only this step")
    p.add_argument("--init", metavar="CKPT", help="start from a local checkpoint (bundle folder or state_dict .pt)")
    p.add_argument("--freeze", type=int, default=0, help="freeze the first N stages (transfer learning)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing, metavar="EPS",
                   help="classification: cross-entropy label smoothing, e.g. 0.1 (default 0: off)")
    p.add_argument("--mixup", type=float, default=d.mixup, metavar="ALPHA",
                   help="classification: mix each batch with a shuffled copy of itself, weight ~ Beta(ALPHA, ALPHA), "
                   "e.g. 0.2 (default 0: off)")
    p.add_argument("--class-weights", default=d.class_weights, help="none | balanced (weighted loss)")
    p.add_argument("--sampler", default=d.sampler, help="auto (default: class-balanced when the largest training class has >= 2x the images of the "
                   "smallest) | uniform | balanced")
    p.add_argument("--no-dedup", dest="dedup", action="store_false",
                   help="classification: keep duplicate images (default: drop them before splitting)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model; writes a run folder with a loadable bundle",
        description="Train a segmentation or classification network with patient-level validation, best "
        "checkpoint by validation score, early stopping, atomic checkpoints and --resume.",
        epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(p)
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to create (or resume)")
    p.add_argument("--fold", type=int, help="hold out this fold of a --folds k-fold as the test part")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "cv", help="k-fold cross-validation grouped by patient, with mean +- sd and CIs",
        description="Train one model per fold (each fold's test patients never seen in training or model "
        "selection), then pool the held-out predictions: cv_summary.json in --out.",
    )
    _add_options(p)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--only-folds", type=int, nargs="*", help="run only these folds (resumable across calls)")
    p.set_defaults(func=_cmd_cv)

    p = sub.add_parser(
        "ensemble", help="combine trained runs (one split) into one ensemble bundle (mean probability)",
        description="Average the probabilities of runs that share one split (e.g. a FLAIR-only and a 3-sequence "
        "U-Net of the same CV fold). Post-processing is chosen on their validation patients; their test "
        "patients, if any, are scored into test_metrics.json. With --cv, RUN arguments are CV folders and every "
        "fold finished in all of them is ensembled, then pooled into cv_summary.json. Classifiers of different "
        "input sizes may be mixed: the ensemble reads images at the largest size and each smaller member "
        "resizes them to its own; every other preprocessing option (normalisation, crop, ...) must agree.",
        epilog="examples:\n"
        "  tumorscope ensemble runs/lgg_final runs/lgg_final_mri3 --out runs/lgg_final_ens\n"
        "  tumorscope ensemble --cv runs/lgg_cv_flair runs/lgg_cv_mri3 --out runs/lgg_cv_ens\n"
        "  tumorscope ensemble --cv runs/brain_192_s0 runs/brain_128_s0 --weights int8 --out runs/brain_mix",
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
                   "final models trained with --val-fraction 0)")
    p.add_argument("--data", help="dataset folder (default: the one the first run was trained on)")
    p.set_defaults(func=_cmd_ensemble)

    d = PretrainConfig()
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
    p.add_argument("--data", nargs="+", metavar="DIR", help="one or more image dataset folders (any layout)")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--model", default=d.model, help="classifier architecture to pretrain (as in train)")
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--size", type=int, default=d.size)
    p.add_argument("--channels", default=d.channels, help="gray | rgb (must match the fine-tuning run)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per batch (2 views each)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--temperature", type=float, default=d.temperature, help="NT-Xent temperature")
    p.add_argument("--patience", type=int, default=d.patience)
    p.add_argument("--time-limit", metavar="DURATION", help="wall-clock budget, e.g. 30m")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.set_defaults(func=_cmd_pretrain)


TASK_DEFAULTS = {
    "segmentation": {"channels": "flair", "loss": "dicece"},
    "classification": {"channels": "rgb", "loss": "ce", "keep": "last"},
}


def _options(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The command-line options that are fields of ``config`` (unset ones left to its defaults)."""
    names = {f.name for f in fields(config)}
    kw = {k: v for k, v in vars(args).items() if k in names and v is not None}
    kw["time_limit"] = parse_duration(args.time_limit) if args.time_limit else None
    return kw


def _resumed(out: Path, config: type[C]) -> C:
    """The config of the run in ``out``, pointed at where the run is now (a moved run resumes in place)."""
    if not (out / "config.json").exists():
        raise TumorscopeError("cannot resume: no config.json in the run folder", out)
    return replace(cast(Any, config.load(out / "config.json")), out=str(out))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    kw = _options(args, TrainConfig)
    task_defaults = TASK_DEFAULTS[kw.get("task", "segmentation")]
    for key, value in task_defaults.items():
        kw.setdefault(key, value)
    if not kw.get("data"):
        raise TumorscopeError("--data DIR is required")
    return TrainConfig(**kw)


def run_training(cfg: TrainConfig, resume: bool = False) -> dict:
    if cfg.task != "classification" and (cfg.keep != "best" or cfg.precise_bn):
        raise TumorscopeError("--keep and --precise-bn are classification options")
    if cfg.task == "segmentation":
        from tumorscope.train.segmentation import train_segmentation

        return train_segmentation(cfg, resume=resume)
    from tumorscope.train.classification import train_classification

    return train_classification(cfg, resume=resume)


def _cmd_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    cfg = _resumed(out, TrainConfig) if args.resume else config_from_args(args)
    if args.resume and args.keep:
        raise TumorscopeError("--keep cannot change when resuming: the run keeps what it started with "
                              f"(--keep {cfg.keep})", out)
    if args.resume and args.precise_bn:  # a finished run resumed with --precise-bn: only that step runs
        cfg = replace(cfg, precise_bn=True)
    summary = run_training(cfg, resume=args.resume)
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, list)}, indent=2))
    print(f"run folder: {out}  (bundle: {out / 'bundle'})")
    return 0


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
    elif not args.data:
        raise TumorscopeError("--data DIR [DIR ...] is required")
    else:
        cfg = PretrainConfig(**_options(args, PretrainConfig))
    summary = pretrain(cfg, resume=args.resume)
    print(json.dumps(summary, indent=2))
    print(f"encoder: {out / 'encoder.pt'}  (fine-tune with: tumorscope train --init {out} ...)")
    return 0
