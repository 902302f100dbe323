"""experiments/run.py: round files rendered to the exact commands the rounds' old scripts ran, skipping, dry runs,
and clear errors for bad round files."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import run as runner
from experiments.jobs import Job, plan, render, run_queue
from experiments.schema import STAGES, RoundError, load_round

ROUNDS = Path(runner.__file__).parent / "rounds"
BRAIN = ("--task classification --data ../shared/data/brain_tumor_mri_4class --width 32 --channels gray --crop "
         "foreground --augment strong --epochs 80 --patience 80 --batch-size 32 --lr 0.002 --loss ce "
         "--label-smoothing 0.1 --mixup 0.2 --val-fraction 0.1 --folds 5 --splits runs/cls9/brain_splits.json")
BUSI = ("--task classification --data ../shared/data/busi --model resnet18 --width 32 --size 128 --channels gray "
        "--epochs 30 --patience 10 --batch-size 16 --lr 0.002 --val-fraction 0.1 --folds 5 --loss ce --threads 1 "
        "--splits runs/cls16/busi_splits.json")
BUSI_FINAL = ("--task classification --data ../shared/data/busi --model resnet18 --width 32 --size 128 --channels "
              "gray --epochs 23 --patience 10 --batch-size 16 --lr 0.002 --val-fraction 0 --loss ce --threads 1")


def commands(name: str, stage: str, **kw: list[int]) -> list[str]:
    return [j.shown() for j in plan(load_round(ROUNDS / f"{name}.toml"), stage, **kw)]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "round.toml"
    path.write_text('title = "t"\nrule = "r"\n' + text)
    return path


def test_render_flags() -> None:
    got = render({"val_fraction": 0, "lr": 0.002, "tta": True, "dedup": False, "only_folds": [3, 4], "x": "a b"})
    assert got == ["--val-fraction", "0", "--lr", "0.002", "--tta", "--only-folds", "3", "4", "--x", "a b"]


def test_round_15_matches_its_old_script() -> None:
    """experiments/cls15/run.py 0 1 2 3 4 and analyze.sh (git history), command for command."""
    runs = commands("cls15", "runs")
    assert len(runs) == 30
    assert runs[0] == (f"tumorscope cv {BRAIN} --keep last --model densenet121 --size 128 --seed 3 --threads 1 "
                       "--only-folds 0 --out runs/cls15/brain_dn121_128_s3")
    assert runs[1] == (f"tumorscope cv {BRAIN} --keep last --model resnet18 --size 192 --seed 3 --threads 1 "
                       "--only-folds 0 --out runs/cls15/brain_r18_192_s3")
    assert [r.split()[-1] + r.split()[-3] for r in runs[:7]] == [
        f"runs/cls15/brain_{n}_s{s}0" for s in (3, 4, 5) for n in ("dn121_128", "r18_192")] + [
        "runs/cls15/brain_dn121_128_s31"]
    assert commands("cls15", "runs", folds=[3, 4])[0].endswith("--only-folds 3 --out runs/cls15/brain_dn121_128_s3")
    new = " ".join(f"runs/cls15/brain_{n}_s{s}" for n in ("dn121_128", "r18_192") for s in (3, 4, 5))
    old = " ".join(f"runs/cls14/last/brain_{n}_s{s}" for n in ("dn121_128", "r18_192") for s in (0, 1, 2))
    assert commands("cls15", "analyze")[:3] == [
        f"tumorscope ensemble --cv {new} --tta on --weights int8 --out runs/cls15/brain_confirm",
        f"tumorscope ensemble --cv {new} --weights int8 --out runs/cls15/brain_confirm_ttachoice",
        f"tumorscope ensemble --cv {new} {old} --tta on --weights int8 --out runs/cls15/brain_confirm12"]


def test_round_16_matches_its_old_scripts() -> None:
    """experiments/cls16/run.sh and final.sh (git history), command for command."""
    split = ("tumorscope datasets split ../shared/data/busi --folds 5 --val 0.1 --dedup --seed 16 "
             "--out runs/cls16/busi_splits.json")
    runs = [split] + [f"tumorscope cv {BUSI} --seed {s} --keep {k} --out runs/cls16/busi_{k}_s{s}"
                      for k in ("best", "last") for s in (0, 1, 2)]
    assert commands("cls16", "runs") == runs
    ens = []
    for k in ("best", "last"):
        trio = " ".join(f"runs/cls16/busi_{k}_s{s}" for s in (0, 1, 2))
        ens += [f"tumorscope ensemble --cv {trio} --tta off --weights float16 --out runs/cls16/busi_{k}_ens3",
                f"tumorscope ensemble --cv {trio} --weights float16 --out runs/cls16/busi_{k}_ens3_ttachoice"]
    assert commands("cls16", "analyze") == ens
    final = " ".join(f"runs/cls16/final/busi_r18_s{s}" for s in (0, 1, 2))
    assert commands("cls16", "final") == [
        *(f"tumorscope train {BUSI_FINAL} --seed {s} --out runs/cls16/final/busi_r18_s{s}" for s in (0, 1, 2)),
        f"tumorscope ensemble {final} --tta off --weights float16 --out runs/cls16/final_busi"]
    assert commands("cls16", "publish") == [
        "tumorscope models publish breast-us-lesion runs/cls16/busi_last_ens3 --final runs/cls16/final_busi"]


def test_other_rounds_keep_their_old_commands() -> None:
    """A few lines of rounds 11 (fold 4 on two threads), 14 (resume with an option) and 14b (all-image training)."""
    assert commands("cls11", "runs")[4] == (f"tumorscope cv {BRAIN} --model densenet121 --size 128 --seed 0 "
                                            "--threads 2 --only-folds 4 --out runs/cls11/brain_dn121_128_s0")
    pbn = commands("cls14", "runs")
    assert pbn[0] == "# linked_copy runs/cls11/brain_dn121_128_s0 -> runs/cls14/brain_dn121_128_s0_pbn"
    assert pbn[6:8] == ["tumorscope train --resume --precise-bn --out runs/cls14/brain_dn121_128_s0_pbn/fold0",
                        "tumorscope train --resume --precise-bn --out runs/cls14/brain_dn121_128_s1_pbn/fold0"]
    recipe = BRAIN.replace("--epochs 80", "--epochs 58").replace(
        "--val-fraction 0.1 --folds 5 --splits runs/cls9/brain_splits.json", "--val-fraction 0")
    assert commands("cls14b", "final")[0] == (f"tumorscope train {recipe} --threads 1 --model densenet121 --size 128 "
                                              "--seed 0 --out runs/cls14/final/brain_dn121_128_s0")


@pytest.mark.parametrize("path", sorted(ROUNDS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_round_file_plans_every_stage(path: Path) -> None:
    rnd = load_round(path)
    assert rnd.title and rnd.rule
    assert plan(rnd, "runs")
    for stage in STAGES:
        assert all(isinstance(j, Job) for j in plan(rnd, stage))


ROUND = """dir = "runs/x"
[recipe]
data = "d"
epochs = 3
folds = 2
[[runs]]
name = "m_s{seed}"
seeds = [0, 1]
folds = [0, 1]
options = { epochs = 5, model = "resnet18" }
[[final]]
name = "all_s{seed}"
command = "train"
seeds = [0]
options = { folds = false }
[[final]]
cmd = "ensemble {dir}/all_s0 --out {dir}/ens"
done = "{dir}/ens/config.json"
"""


def test_overrides_keep_their_place_and_finished_jobs_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    rnd = load_round(write(tmp_path, ROUND))
    jobs = plan(rnd, "runs")
    assert jobs[0].args == ["cv", "--data", "d", "--epochs", "5", "--folds", "2", "--model", "resnet18", "--seed", "0",
                            "--threads", "1", "--only-folds", "0", "--out", "runs/x/m_s0"]
    assert [j.name for j in jobs] == ["m_s0 fold 0", "m_s0 fold 1", "m_s1 fold 0", "m_s1 fold 1"]
    assert jobs[0].log == Path("runs/x/logs/m_s0_fold0.log")
    (tmp_path / "runs/x/m_s0/fold0").mkdir(parents=True)
    (tmp_path / "runs/x/m_s0/fold0/test_metrics.json").write_text("{}")
    (tmp_path / "runs/x/ens").mkdir(parents=True)
    (tmp_path / "runs/x/ens/config.json").write_text("{}")
    assert run_queue(plan(rnd, "runs") + plan(rnd, "final"), dry_run=True) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["# done, skipped: m_s0 fold 0 (runs/x/m_s0/fold0/test_metrics.json)",
                       "# done, skipped: step 1 (runs/x/ens/config.json)"]
    assert [line.split()[-1] for line in out[2:]] == ["runs/x/m_s0", "runs/x/m_s1", "runs/x/m_s1", "runs/x/all_s0"]
    assert "--folds" not in out[-1] and "--only-folds" not in out[-1]
    (tmp_path / "runs/x/all_s0").mkdir(parents=True)  # an interrupted training resumes
    (tmp_path / "runs/x/all_s0/checkpoint.pt").write_text("")
    assert plan(rnd, "final")[0].args == ["train", "--resume", "--out", "runs/x/all_s0"]


def test_dry_run_prints_and_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, ROUND)

    def no_process(*a: object, **k: object) -> None:
        raise AssertionError("dry run started a process")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert runner.main([str(path), "--folds", "1", "--seeds", "1", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tumorscope cv --data d --epochs 5 --folds 2 --model resnet18 --seed 1 --threads 1 --only-folds 1 "
        "--out runs/x/m_s1"]
    assert runner.main([str(path), "--stage", "final", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "tumorscope ensemble runs/x/all_s0 --out runs/x/ens"
    assert list(tmp_path.iterdir()) == [path]  # no folder, no log


def test_queue_runs_jobs_in_order_and_skips_finished(tmp_path: Path) -> None:
    src = tmp_path / "in.json"
    src.write_text(json.dumps({"a": 1}))
    done = tmp_path / "done.json"
    done.write_text("kept")
    jobs = [Job("first", [str(src), str(tmp_path / "a.json")], tmp_path / "logs/a.log", tmp_path / "a.json",
                module="json.tool"),
            Job("finished", [str(tmp_path / "missing.json"), str(done)], None, done, module="json.tool"),
            Job("alone", [str(tmp_path / "a.json"), str(tmp_path / "b.json")], None, tmp_path / "b.json", None,
                module="json.tool")]
    assert run_queue(jobs, slots=2, poll=0.05) == 0
    assert json.loads((tmp_path / "b.json").read_text()) == {"a": 1}  # ran after "first" had finished
    assert done.read_text() == "kept"
    assert (tmp_path / "logs/a.log").exists()
    failing = Job("fails", [str(tmp_path / "missing.json")], None, tmp_path / "never.json", module="json.tool")
    assert run_queue([failing], poll=0.05) != 0


@pytest.mark.parametrize(("text", "message"), [
    ('[[runs]]\nname = "m"\noptins = {}\n', "unknown key runs[0].optins"),
    ('typo = 1\n[[runs]]\nname = "m"\n', "unknown key typo"),
    ('[[runs]]\ncommand = "cv"\n', "runs[0] needs exactly one of the keys name"),
    ('[[runs]]\nname = "m"\nseeds = [0, "1"]\n', "runs[0].seeds must be a list of integers"),
    ('[[runs]]\nname = "m"\ncommand = "resume"\n', "runs[0].folds: a resume run needs the folds"),
    ('[[runs]]\naction = "last_epoch_copy"\nmembers = ["a"]\n', "missing key runs[0].into"),
    ('[[runs]]\ncmd = "ensemble {nope} --out x"\n', "runs[0].cmd: unknown variable {nope}"),
    ('[[runs]]\nname = "m"\noptions = { out = "x" }\n', "runs[0].options.out is set by the runner"),
    ('[[runs]]\nname = "m"\nseeds = [1]\noptions = { seed = 3 }\n', "runs[0].options.seed"),
    ('[[runs]\n', "not valid TOML"),
    ('order = ["fold", "run"]\n[[runs]]\nname = "m"\n', "order must list run, seed, fold"),
    ('jobs = 0\n[[runs]]\nname = "m"\n', "jobs must be at least 1"),
    ('[[runs]]\ncmd = "x"\nslots = 0\n', "runs[0].slots must be at least 1"),
])
def test_bad_round_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RoundError) as e:
        load_round(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)


def test_missing_field_and_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.toml"
    path.write_text('title = "t"\n[[runs]]\nname = "m"\n')
    assert runner.main([str(path), "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {path}: missing key rule"
    whole = write(tmp_path, '[recipe]\nfolds = 5\n[[runs]]\nname = "m"\n')
    assert runner.main([str(whole), "--folds", "0", "--dry-run"]) == 2
    assert "runs[0] (m) is a whole CV" in capsys.readouterr().err
    assert runner.main([str(tmp_path / "none.toml")]) == 2
    assert "no such round file" in capsys.readouterr().err


def test_cli_script_runs_from_the_repository_root() -> None:
    root = Path(runner.__file__).parents[1]
    p = subprocess.run([sys.executable, "experiments/run.py", "cls12b", "--dry-run"], cwd=root, capture_output=True,
                       text=True, check=True)
    assert p.stdout.splitlines()[-1] == (f"tumorscope cv {BRAIN} --model resnet18 --size 224 --seed 0 --threads 1 "
                                         "--only-folds 3 --out runs/cls12b/brain_r18_224_s0")


def _cv_run(root: Path, folds: int = 2) -> Path:
    """A fake finished CV folder: configs, metadata and weight files per fold."""
    import torch

    root.mkdir(parents=True)
    (root / "cv_config.json").write_text(json.dumps({"keep": "best", "out": str(root)}))
    for f in range(folds):
        d = root / f"fold{f}"
        d.mkdir()
        for x in ("splits.json", "dedup.json", "metrics.csv", "train_summary.json"):
            (d / x).write_text("{}")
        (d / "config.json").write_text(json.dumps({"keep": "best", "out": str(d)}))
        torch.save({"w": torch.zeros(1)}, d / "best.pt")
        torch.save({"model": {"w": torch.full((1,), float(f + 1))}, "epoch": 80, "best_epoch": 60},
                   d / "checkpoint.pt")
    return root


def test_copy_actions_and_their_done_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from experiments import actions

    src = _cv_run(tmp_path / "src")
    linked, last = tmp_path / "copies/m_pbn", tmp_path / "copies/m"
    assert not actions.copy_done(linked, 2)
    actions.linked_copy(src, linked, 2)
    assert actions.copy_done(linked, 2)
    assert (linked / "fold1/best.pt").resolve() == (src / "fold1/best.pt").resolve()
    assert (linked / "fold1/best.pt").is_symlink() and not (linked / "fold1/config.json").is_symlink()
    actions.linked_copy(src, linked, 2)  # again: links replaced, no error
    actions.last_epoch_copy(src, last, 2)
    assert actions.copy_done(last, 2)
    assert torch.load(last / "fold1/best.pt")["w"].item() == 2.0  # the checkpoint's (last epoch's) model
    assert torch.load(src / "fold1/best.pt")["w"].item() == 0.0  # the original untouched
    cfg = json.loads((last / "fold0/config.json").read_text())
    assert cfg == {"keep": "last", "out": str(last / "fold0")}
    assert json.loads((last / "cv_config.json").read_text())["keep"] == "last"
    assert "last epoch 80 best epoch 60" in capsys.readouterr().out


def test_cv_summary_prints_the_pooled_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from experiments import actions

    (tmp_path / "ens").mkdir()
    pooled = {"n": 1469, "accuracy": 1396 / 1469, "ci95": {"accuracy": [0.9371, 0.9624]}, "auc_macro": 0.99521}
    (tmp_path / "ens/cv_summary.json").write_text(json.dumps({"folds_done": 5, "pooled": pooled}))
    actions.cv_summary([tmp_path / "ens"])
    assert capsys.readouterr().out.strip() == (f"{tmp_path / 'ens'} folds 5 n 1469 acc 0.9503 correct 1396 ci "
                                               "[0.937, 0.962] auc 0.9952")


def test_comparison_rounds_render_one_command_per_table_row() -> None:
    """docs/comparison.md's tables: features, joins, classical CVs on one split file, then compare --tests."""
    runs = commands("cmp_lgg_grade", "runs")
    assert runs[0].endswith("--seed 31 --out runs/cmp_lgg_grade/lgg_splits.json")
    assert "--kind deep --model lgg-flair-seg --roi mask --level volume" in runs[2]
    assert runs[3] == ("tumorscope features --join runs/cmp_lgg_grade/tumor_radiomics.csv "
                       "runs/cmp_lgg_grade/tumor_deep.csv -o runs/cmp_lgg_grade/tumor_both.csv")
    cvs = [r for r in runs if r.startswith("tumorscope cv")]
    assert len(cvs) == 18 and all("--splits runs/cmp_lgg_grade/lgg_splits.json" in r for r in cvs)
    assert all("--roi mask" in r and "--target " in r for r in cvs)
    grade = commands("cmp_lgg_grade", "analyze")[0]
    assert grade.startswith("tumorscope compare --tests runs/cmp_lgg_grade/grade_radiomics_svm ")
    assert grade.count("runs/cmp_lgg_grade/grade_") == 9 and "--names radiomics+SVM" in grade
    presence = commands("cmp_lgg_presence", "runs")
    assert all("--splits runs/cmp_lgg_grade/lgg_splits.json" in r for r in presence[1:])  # the same patient folds
    assert {r.split("--model ")[1].split()[0] for r in presence[1:]} == {"svm", "rf", "gbm", "logreg", "resnet18",
                                                                          "unet2d"}
    deep = [r for r in presence if "--only-folds" in r]  # the CNN and the U-Net: one job per fold, no features
    assert len(deep) == 10 and not any("--features" in r or "--roi" in r for r in deep)
    assert sum("--task segmentation" in r for r in deep) == 5
    assert "compare --tests --presence" in commands("cmp_lgg_presence", "analyze")[0]
    for name, rows in (("cmp_busi", 5), ("cmp_brain", 4)):  # table 3: on the bundles' own split commands
        split, *_ = commands(name, "runs")
        assert "--dedup" in split and ("--seed 16" if name == "cmp_busi" else "--seed 0") in split
        (table,) = [c for c in commands(name, "analyze") if c.startswith("tumorscope compare")]
        assert table.count(f"runs/{name}/") == rows + 2  # the rows, then -o and --json
