"""Options defined once: generated command lines print and read back every field exactly, values are checked
before any data is read, and saved configs refuse unknown keys but migrate what older versions saved."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

from tumorscope.errors import TumorscopeError
from tumorscope.options import PretrainConfig, TrainConfig, parse, shell_join, to_argv
from tumorscope.options.spec import Interval, default_of

# a value different from the default for every field (the task's own where tasks differ)
TRAIN_VALUES = {
    "task": "classification", "data": "some data/dir", "model": "resnet18", "out": "runs/x", "epochs": 7,
    "batch_size": 3, "lr": 3.3e-4, "weight_decay": 0.05, "loss": "focal", "width": 8, "size": 96,
    "channels": "gray", "normalization": "zscore", "enhancement": "clahe", "crop": "foreground",
    "augment": "heavy", "seed": 4, "val_fraction": 0.05, "folds": 3, "fold": 2, "splits": "s.json",
    "patience": 3, "time_limit": 95.25, "threads": 2, "nproc": 2, "bf16": False, "ema": 0.99, "keep": "best",
    "precise_bn": True, "init": "runs/ssl", "init_member": 1, "freeze": 2, "class_weights": "balanced", "label_smoothing": 0.1,
    "mixup": 0.2, "sampler": "balanced", "dedup": False,
}
# the classical models' options (--model svm|rf|gbm|logreg; refused with a network)
CLASSICAL_VALUES = {"select": "mrmr:20", "hparams": "C=3,gamma=0.01", "features": "f.csv", "roi": "whole",
                    "target": "neoplasm_histologic_grade", "filters": "none", "patient_relative": True}
PRETRAIN_VALUES = {
    "data": ["a", "b c"], "out": "runs/p2", "model": "cnn", "width": 8, "size": 64, "channels": "rgb",
    "normalization": "zscore", "epochs": 3, "batch_size": 8, "lr": 0.01, "weight_decay": 0.0, "temperature": 0.5,
    "val_fraction": 0.2, "patience": 2, "time_limit": 1800.0, "seed": 1, "threads": 1, "bf16": False,
}


def test_every_field_has_a_test_value():
    assert set(TRAIN_VALUES) | set(CLASSICAL_VALUES) == {f.name for f in fields(TrainConfig)}
    assert set(PRETRAIN_VALUES) == {f.name for f in fields(PretrainConfig)}


@pytest.mark.parametrize("name", sorted(CLASSICAL_VALUES))
def test_train_command_reads_back_each_classical_field(name):
    base = TrainConfig(task="classification", model="svm", data="DATA", out="runs/r")
    cfg = replace(base, **{name: CLASSICAL_VALUES[name]})
    assert getattr(cfg, name) != getattr(base, name)
    assert parse(TrainConfig, to_argv(cfg)) == cfg
    assert parse(TrainConfig, to_argv(TrainConfig(**{**TRAIN_VALUES, **CLASSICAL_VALUES, "model": "rf"}))).roi == "whole"
    with pytest.raises(TumorscopeError, match="option of the classical models"):
        replace(base, model="resnet18", **{name: CLASSICAL_VALUES[name]})


@pytest.mark.parametrize("task", ["segmentation", "classification"])
@pytest.mark.parametrize("name", sorted(TRAIN_VALUES))
def test_train_command_reads_back_each_field(task, name):
    base = TrainConfig(task=task, data="DATA", out="runs/r")
    value = TRAIN_VALUES[name]
    if task == "segmentation" and name in ("keep", "precise_bn", "crop", "label_smoothing", "mixup", "loss"):
        value = {"keep": "best", "precise_bn": False, "crop": "none", "label_smoothing": 0.0, "mixup": 0.0,
                 "loss": "dice"}[name]
        if name != "loss":
            return  # classification-only options: refused for segmentation (tested below)
    if name == "keep" and task == "classification":
        value = "best"  # the classification default is last
    if name == "task":  # another task: a new config (its task defaults differ)
        cfg = TrainConfig(task="segmentation" if task == "classification" else "classification", data="DATA")
    else:  # a member of an ensemble needs the ensemble
        cfg = replace(base, **{name: value, **({"init": "runs/ens"} if name == "init_member" else {})})
    assert getattr(cfg, name) != getattr(base, name)
    argv = to_argv(cfg)
    assert parse(TrainConfig, argv) == cfg, argv


def test_all_fields_at_once_and_the_shell_line():
    cfg = TrainConfig(**TRAIN_VALUES)
    argv = to_argv(cfg)
    assert parse(TrainConfig, argv) == cfg
    line = shell_join(argv)
    assert "'some data/dir'" in line and "--no-bf16" in line and "--no-dedup" in line and "--time-limit 95.25s" in line
    # the options the issue found missing from card commands are printed
    for flag in ("--normalization zscore", "--enhancement clahe", "--weight-decay 0.05"):
        assert flag in line


@pytest.mark.parametrize("name", sorted(PRETRAIN_VALUES))
def test_pretrain_command_reads_back_each_field(name):
    base = PretrainConfig(data=["D"], out="runs/p")
    cfg = replace(base, **{name: PRETRAIN_VALUES[name]})
    assert getattr(cfg, name) != getattr(base, name)
    assert parse(PretrainConfig, to_argv(cfg, command="pretrain"), "pretrain") == cfg


def test_defaults_are_left_out_unless_asked_for():
    cfg = TrainConfig(task="classification", data="D", out="o")
    assert to_argv(cfg) == ["--task", "classification", "--data", "D", "--out", "o"]
    assert to_argv(cfg, show=("keep", "lr")) == ["--task", "classification", "--data", "D", "--lr", "0.002",
                                                 "--keep", "last", "--out", "o"]


def test_task_defaults_match_the_cli():
    seg, cls = TrainConfig(), TrainConfig(task="classification")
    assert (seg.loss, seg.channels, seg.keep) == ("dicece", "flair", "best")
    assert (cls.loss, cls.channels, cls.keep) == ("ce", "rgb", "last")
    keep = next(f for f in fields(TrainConfig) if f.name == "keep")
    assert default_of(keep, "classification") == "last"


@pytest.mark.parametrize(("change", "message"), [
    ({"lr": 0.0}, "--lr 0.0: must be a number in \\(0, inf\\)"),
    ({"epochs": 0}, "--epochs 0"),
    ({"augment": "extreme"}, "--augment 'extreme': choose none"),
    ({"loss": "dice", "task": "classification"}, "--loss 'dice': choose dicece | ce"),
    ({"loss": "ce"}, "--loss 'ce'"),
    ({"val_fraction": 1.0}, "--val-fraction 1.0"),
    ({"sampler": "even", "task": "classification"}, "--sampler 'even'"),
    ({"keep": "last"}, "--keep"),
    ({"augment": "strong"}, "--augment strong are classification options"),
    ({"mixup": 0.2}, "--mixup"),
    ({"fold": 5}, "--fold must be in 0..4"),
    ({"task": "detection"}, "--task 'detection'"),
    ({"batch_size": 2.5}, "--batch-size 2.5: must be an integer"),
])
def test_bad_values_name_the_option(change, message):
    with pytest.raises(TumorscopeError, match=message):
        TrainConfig(**{"data": "D", **change})


def test_cli_refuses_bad_values_before_reading_data(tmp_path, capsys):
    from tumorscope.cli import main

    missing = tmp_path / "no-such-dataset"
    assert main(["train", "--data", str(missing), "--augment", "extreme", "--out", str(tmp_path / "r")]) == 2
    assert "--augment 'extreme'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_interval_text():
    assert str(Interval(float, 0, 1, "left")) == "a number in [0, 1)"
    assert Interval(int, 1).check(True) is not None  # a bool is no integer here


def test_saved_config_refuses_unknown_keys(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TrainConfig(data="D").to_dict(), "learning_rate": 0.1}))
    with pytest.raises(TumorscopeError, match="unknown option 'learning_rate'") as err:
        TrainConfig.load(path)
    assert err.value.path == path
    with pytest.raises(TumorscopeError, match="unknown option 'bogus'"):
        PretrainConfig.from_dict({"bogus": 1})


def test_saved_config_round_trip_and_migrations():
    cfg = TrainConfig(**TRAIN_VALUES)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    old = cfg.to_dict()
    del old["keep"]
    assert TrainConfig.from_dict(old).keep == "best"  # saved before --keep existed: the best epoch was kept
    for keep in ("best", None):  # without a validation part the last epoch was kept, whatever keep says
        final = {**old, "val_fraction": 0.0} | ({"keep": keep} if keep else {})
        assert TrainConfig.from_dict(final).keep == "last"
    old_seg = {k: v for k, v in TrainConfig(data="D").to_dict().items() if k not in ("keep", "ema", "crop")}
    assert TrainConfig.from_dict(old_seg) == TrainConfig(data="D")
    legacy_loss = {**TrainConfig(task="classification", data="D").to_dict(), "loss": "dicece"}
    assert TrainConfig.from_dict(legacy_loss).loss == "ce"  # what classification trained with for "dicece"
