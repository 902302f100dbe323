"""`tumorscope tune`: grid and TPE searches on an objective with a known optimum (the trial path with training
replaced by a formula, tests/train/tune_objectives.py), validation folds without the test patients, resuming
after kill -9, the best config trained by `train --config`, and the search space files."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from tests.synthetic import TINY_SEG, write_kaggle3m
from tumorscope.cli import main
from tumorscope.data.dataset import load_dataset
from tumorscope.data.splits import load_splits
from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig, parse
from tumorscope.train.data_split import choose_split
from tumorscope.train.tune_space import DEFAULT_SPACES, default_space, parse_space, read_space

REPO = Path(__file__).resolve().parents[2]
OBJECTIVE = ["--objective", "tests.train.tune_objectives:quadratic", "--metric", "score"]
SPACE = 'lr = {low = 1e-4, high = 1e-2, log = true}\nwidth = [8, 16, 32]\nepochs = 1\n'


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kaggle3m(tmp_path_factory.mktemp("lgg"))


def _space(tmp_path: Path, text: str = SPACE, name: str = "space.toml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path / name


def _argv(data: Path, out: Path, space: Path, *extra: str) -> list[str]:
    return ["tune", *TINY_SEG, "--data", str(data), "--fold", "0", "--space", str(space), *OBJECTIVE, *extra,
            "--out", str(out)]


def _tune(data: Path, out: Path, space: Path, *extra: str) -> dict:
    assert main(_argv(data, out, space, *extra)) == 0
    return json.loads((out / "tune_summary.json").read_text())


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one-line error of a refused command (exit code 2, no traceback)."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _calls(out: Path) -> list[str]:
    return [line.split()[0] for line in (out / "calls.log").read_text().splitlines()]


def test_grid_finds_the_known_optimum_and_a_rerun_adds_nothing(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid"
    summary = _tune(data, out, _space(tmp_path), "--search", "grid", "--trials", "50")
    assert len(summary["trials"]) == 9  # 3 lr points x 3 widths, --trials capped at the grid's size
    tried = {(t["params"]["lr"], t["params"]["width"]) for t in summary["trials"]}
    assert tried == {(lr, w) for lr in (1e-4, 1e-3, 1e-2) for w in (8, 16, 32)}
    assert summary["best"]["params"] == {"lr": 1e-3, "width": 16, "epochs": 1}
    assert summary["best"]["value"] == pytest.approx(1.0)
    assert set(summary["importances"]) == {"lr", "width"} and (out / "importance.png").stat().st_size > 1000
    assert (out / "history.png").stat().st_size > 1000
    again = _tune(data, out, _space(tmp_path), "--search", "grid", "--trials", "50")
    assert len(again["trials"]) == 9 and len(_calls(out)) == 9  # nothing re-run


def test_bayes_gets_close_to_the_optimum(data: Path, tmp_path: Path) -> None:
    space = _space(tmp_path, 'lr = {low = 1e-5, high = 1e-1, log = true}\nwidth = {low = 4, high = 64}\n')
    summary = _tune(data, tmp_path / "tpe", space, "--search", "bayes", "--trials", "30")
    assert len(summary["trials"]) == 30
    best = summary["best"]["params"]
    # measured over seeds 0-4 (30 trials): TPE best 0.953-0.9998 (mean 0.986), random 0.850-0.996 (mean 0.941)
    assert summary["best"]["value"] > 0.95, best
    assert abs(best["width"] - 16) <= 4 and 4e-4 < best["lr"] < 2.5e-3


def test_validation_folds_never_hold_test_patients(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "folds"
    _tune(data, out, _space(tmp_path), "--search", "random", "--trials", "2", "--inner-folds", "2")
    inner = load_splits(out / "tune_splits.json")
    outer = choose_split(TrainConfig(data=str(data), fold=0, val_fraction=0.34), load_dataset(data))
    test = set(outer.groups["test"])
    assert test and len(inner) == 2
    for fold in inner:
        assert not test & {g for part in fold.groups.values() for g in part}
    assert {g for f in inner for g in f.groups["test"]} == set(outer.groups["train"]) | set(outer.groups["val"])


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_resume_after_kill_keeps_finished_trials(data: Path, tmp_path: Path, sig: signal.Signals) -> None:
    out, space = tmp_path / "killed", _space(tmp_path)
    argv = [sys.executable, "-m", "tumorscope", "tune", *TINY_SEG, "--data", str(data), "--fold", "0", "--space",
            str(space), *OBJECTIVE, "--search", "random", "--trials", "5", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TUNE_TEST_HANG": "0002"}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "trials" / "0002" / "hanging").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    os.kill(proc.pid, sig)  # mid-trial
    assert proc.wait(timeout=60) == (-9 if sig == signal.SIGKILL else 130)
    assert _calls(out) == ["0000", "0001", "0002"]
    interrupted = [line.split()[1:] for line in (out / "calls.log").read_text().splitlines()][2]
    summary = _tune(data, out, space, "--search", "random", "--trials", "5")
    assert _calls(out) == ["0000", "0001", "0002", "0002", "0004", "0005"]  # 0002 again in its folder, once
    states = [(t["number"], t["state"]) for t in summary["trials"]]
    assert states == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "FAIL"), (3, "COMPLETE"), (4, "COMPLETE"),
                      (5, "COMPLETE")]
    retried = summary["trials"][3]
    assert retried["dir"] == "trials/0002" and [repr(retried["params"]["lr"]), str(retried["params"]["width"])] \
        == interrupted and summary["trials"][2]["interrupted"] and "interrupted" not in retried
    rerun = _tune(data, out, space, "--search", "random", "--trials", "5")
    assert len(rerun["trials"]) == 6 and len(_calls(out)) == 6


def test_best_config_trains_with_train_config(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "best"
    summary = _tune(data, out, _space(tmp_path, "lr = [1e-3, 1e-2]\nwidth = [4, 16]\nepochs = 1\n"),
                    "--search", "grid")
    best = TrainConfig.load(out / "best_config.json")
    assert (best.lr, best.width, best.epochs, best.fold, best.folds) == (1e-3, 16, 1, 0, 5)
    assert best.splits is None and best.data == str(data)  # the outer split, not the tune folds
    run = tmp_path / "run"
    assert main(["train", "--config", str(out / "best_config.json"), "--width", "4", "--out", str(run)]) == 0
    trained = TrainConfig.load(run / "config.json")
    assert trained.to_dict() == {**best.to_dict(), "width": 4, "out": str(run)}
    words = shlex.split(summary["command"])
    assert words[:2] == ["tumorscope", "train"] and parse(TrainConfig, words[2:]) == replace(best, out="runs/tuned")


def test_a_changed_study_is_refused(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "changed"
    _tune(data, out, _space(tmp_path), "--search", "random", "--trials", "1")
    assert "holds a study with other search" in _refused(capsys, _argv(data, out, _space(tmp_path), "--search",
                                                                         "grid"))


def test_space_files_toml_and_yaml(tmp_path: Path) -> None:
    toml = read_space(_space(tmp_path))
    yaml = read_space(_space(tmp_path, "lr: {low: 1.0e-4, high: 1.0e-2, log: true}\nwidth: [8, 16, 32]\n"
                                        "epochs: 1\n", "space.yaml"))
    assert toml == yaml and toml.fixed == {"epochs": 1}
    assert toml.grid() == {"lr": [1e-4, 1e-3, 1e-2], "width": [8, 16, 32]} and toml.grid_size() == 9
    ints = parse_space({"n-estimators": {"low": 100, "high": 500, "step": 100}, "max_depth": {"low": 2, "high": 6}})
    assert ints.grid() == {"n_estimators": [100, 200, 300, 400, 500], "max_depth": [2, 4, 6]}
    for bad, words in [({"lr": {"low": 1, "high": 0}}, "low < high"), ({"lr": {"low": 1}}, "a range is"),
                       ({"epochs": 3}, "searches nothing"), ({"lr": []}, "a choice needs")]:
        with pytest.raises(TumorscopeError, match=words):
            parse_space(bad)
    with pytest.raises(TumorscopeError, match="cannot parse"):
        read_space(_space(tmp_path, "lr = {low = ", "broken.toml"))


def test_default_spaces_cover_deep_and_classical_models() -> None:
    assert set(default_space("unet2d", "segmentation").searched) == set(DEFAULT_SPACES["segmentation"])
    assert set(default_space("resnet18", "classification").searched) >= {"lr", "weight_decay", "mixup"}
    assert set(default_space("svm", "classification").searched) == {"C", "gamma"}
    assert set(default_space("gbm", "classification").searched) == {"max_iter", "max_depth", "learning_rate"}
    for model in ("rf", "logreg"):
        assert default_space(model, "classification").grid_size() > 1


def test_unknown_option_in_the_space_is_one_line(data: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(capsys, _argv(data, tmp_path / "svm", _space(tmp_path, "gamma = [0.1, 1.0]\n")))
    assert "'gamma', which is no option of `tumorscope train`" in err


def test_classical_space_names_become_estimator_hparams(data: Path, tmp_path: Path) -> None:
    """For svm|rf|gbm|logreg a searched name that is no train option goes into --hparams (merged with the
    base's); every default space's names are parameters of its estimator; a wrong name is one line."""
    from tumorscope.classical.pipeline import estimator, parse_hparams
    from tumorscope.train.tune_objective import apply_options

    base = parse(TrainConfig, ["--task", "classification", "--model", "svm", "--data", str(data), "--out",
                               str(tmp_path / "r"), "--hparams", "class_weight=none"])
    cfg = apply_options(base, {"C": 10.0, "gamma": 0.01, "select": "univariate:5"})
    assert cfg.select == "univariate:5"
    assert parse_hparams(cfg.hparams) == {"class_weight": None, "C": 10.0, "gamma": 0.01}
    for model in ("svm", "rf", "gbm", "logreg"):
        params = {k: v[0] for k, v in default_space(model, "classification").grid().items()}
        estimator(model, params)  # raises on a name the estimator does not have
    with pytest.raises(TumorscopeError, match="svm has no parameter 'depth'"):
        apply_options(base, {"depth": 3})


def test_tune_help() -> None:
    done = subprocess.run([sys.executable, "-m", "tumorscope", "tune", "--help"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    for words in ("--search {grid,random,bayes}", "--trials N", "--timeout DURATION", "--space FILE",
                  "best_config.json", "tumorscope train --config"):
        assert words in done.stdout


def _few_lgg_patients(lgg: Path, root: Path, patients: int = 5, slices: int = 8) -> Path:
    """A kaggle_3m folder of the middle ``slices`` slices of the first ``patients`` shared LGG patients (links,
    renumbered 1..slices so that each stays one volume)."""
    for src in sorted(p for p in (lgg / "kaggle_3m").iterdir() if p.is_dir())[:patients]:
        numbers = sorted(int(f.stem.rsplit("_", 1)[1]) for f in src.glob("*.tif") if not f.stem.endswith("_mask"))
        middle = len(numbers) // 2
        dst = root / "kaggle_3m" / src.name
        dst.mkdir(parents=True)
        for j, i in enumerate(numbers[middle - slices // 2: middle + slices - slices // 2], start=1):
            (dst / f"{src.name}_{j}.tif").symlink_to(src / f"{src.name}_{i}.tif")
            (dst / f"{src.name}_{j}_mask.tif").symlink_to(src / f"{src.name}_{i}_mask.tif")
    return root


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_tune_of_a_unet_on_a_few_lgg_patients(lgg_dir: Path, tmp_path: Path) -> None:
    """Two random-search trials of a 1-epoch U-Net on 5 patients x 8 slices (measured 68-359 s on the 2 shared cores at load
    averages 13-20; most of it training, the evaluation's bootstrap CIs and imports): the
    score is the held-out Dice of a validation fold; the outer test patient is in no trial's split."""
    data = _few_lgg_patients(lgg_dir, tmp_path / "lgg")
    space = _space(tmp_path, "lr = {low = 1e-3, high = 1e-2, log = true}\nwidth = [4, 8]\n")
    out = tmp_path / "tune"
    assert main(["tune", "--task", "segmentation", "--data", str(data), "--folds", "5", "--fold", "0", "--epochs",
                 "1", "--size", "32", "--batch-size", "8", "--threads", "2", "--augment", "light", "--val-fraction",
                 "0.34", "--space", str(space), "--search", "random", "--trials", "2", "--inner-folds", "2",
                 "--folds-per-trial", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "tune_summary.json").read_text())
    assert [t["state"] for t in summary["trials"]] == ["COMPLETE", "COMPLETE"]
    for t in summary["trials"]:
        cv = json.loads((out / t["dir"] / "cv_summary.json").read_text())
        assert 0 <= t["value"] <= 1 and t["value"] == pytest.approx(cv["dice_mean"])
        assert cv["folds_done"] == 1 and not (out / t["dir"] / "fold1").exists()
    outer = choose_split(TrainConfig.load(out / "best_config.json"), load_dataset(data))
    assert len(outer.groups["test"]) == 1
    seen = {g for run in out.glob("trials/*/fold*") for s in load_splits(run / "splits.json")
            for part in s.groups.values() for g in part}
    assert len(seen) == 4 and not seen & set(outer.groups["test"])


def test_one_tune_per_folder(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import fcntl

    out = tmp_path / "locked"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running tune holds it
        assert "another `tumorscope tune` is running" in _refused(capsys, _argv(data, out, _space(tmp_path)))
    assert not (out / "study.db").exists()


def test_metric_names_find_the_pooled_validation_scores() -> None:
    import numpy as np

    from tumorscope.evaluate.classification import classification_metrics
    from tumorscope.train.tune_objective import metric_value

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 60), rng.random((60, 3))
    pooled = classification_metrics(y, p / p.sum(1, keepdims=True), ["a", "b", "c"], [str(i) for i in range(60)],
                                    n_boot=20)
    assert pooled["per_class"]["a"]["auc"] != pytest.approx(pooled["auc_macro"])
    cls = {"task": "classification", "folds_done": 2, "k": 2, "pooled": pooled,
           "across_folds": {"auc_macro": {"mean": 0.99, "sd": 0.0, "per_fold": [0.99, 0.99]}}}
    assert metric_value(cls, "val_auc") == pytest.approx(pooled["auc_macro"])  # pooled, not the folds' mean
    assert metric_value(cls, "val_sensitivity") == pytest.approx(pooled["sensitivity_macro"])
    seg = {"task": "segmentation", "dice_mean": 0.7, "hd95_mean_mm": 9.0,
           "across_folds": {"dice_mean": {"mean": 0.6}, "slice_auc": {"mean": 0.8}}}
    assert (metric_value(seg, "val_dice"), metric_value(seg, "val_hd95_mean_mm")) == (0.7, 9.0)
    assert metric_value(seg, "val_slice_auc") == 0.8
    with pytest.raises(TumorscopeError, match="'val_kappa' is not in the trial's results .*dice_mean"):
        metric_value(seg, "val_kappa")


def test_timeout_starts_no_trial_after_it(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNE_TEST_SECONDS", "1")
    summary = _tune(data, tmp_path / "timeout", _space(tmp_path), "--search", "random", "--trials", "100",
                    "--timeout", "3s")
    starts = [datetime.fromisoformat(t["start"]) for t in summary["trials"]]
    assert 1 <= len(starts) < 10 and all(t["state"] == "COMPLETE" for t in summary["trials"])
    assert all((s - starts[0]).total_seconds() <= 4 for s in starts)  # the clock starts before the first trial


def test_too_many_inner_folds_is_one_line_and_leaves_no_study(data: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "few"
    err = _refused(capsys, _argv(data, out, _space(tmp_path), "--inner-folds", "5"))
    assert "cannot cut 5 folds from 4 group(s)" in err  # 6 patients, 2 of them in the test fold
    summary = _tune(data, out, _space(tmp_path), "--inner-folds", "2", "--trials", "1")
    assert summary["inner_folds"] == 2 and len(summary["trials"]) == 1
    assert summary["importances"] == {} and not (out / "importance.png").exists()  # one trial: no importance
