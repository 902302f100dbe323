"""Grouped, stratified, seeded splits and their splits.json."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tumorscope.data import Dataset, Sample, kfold, load_dataset, load_splits, make_split, save_splits, select
from tumorscope.data.splits import PARTS, group_key
from tumorscope.errors import TumorscopeError

ROOT = Path("/data/set")


def _patients(n: int = 60, slices: int = 4) -> Dataset:
    """``n`` patients of ``slices`` slices; a third of the patients have no tumor slice at all."""
    samples = [
        Sample(
            image=ROOT / f"p{p:03d}" / f"{i}.tif",
            label="tumor" if p % 3 and i % 2 else "no_tumor",
            masks=(ROOT / f"p{p:03d}" / f"{i}_mask.tif",),
            patient_id=f"P{p:03d}",
            slice_index=i + 1,
        )
        for p in range(n)
        for i in range(slices)
    ]
    return Dataset(root=ROOT, layout="synthetic", samples=samples)


def _images(n: int = 100, share_b: float = 0.3) -> Dataset:
    """``n`` patient-less images, a fraction ``share_b`` of class ``b``."""
    samples = [Sample(image=ROOT / f"x{i:03d}.png", label="b" if i < n * share_b else "a") for i in range(n)]
    return Dataset(root=ROOT, layout="synthetic", samples=samples)


def _parts_by_group(ds: Dataset, split) -> dict[str, set[str]]:
    """Which parts each group's samples landed in, read back through ``select``."""
    seen: dict[str, set[str]] = {}
    for part in PARTS:
        for s in select(ds, split, part):
            seen.setdefault(group_key(s, ds.root), set()).add(part)
    return seen


def test_no_group_on_two_sides_and_every_sample_placed():
    ds = _patients()
    split = make_split(ds, val=0.15, test=0.15, seed=0)
    seen = _parts_by_group(ds, split)
    assert len(seen) == 60 and all(len(parts) == 1 for parts in seen.values())
    assert sum(len(split.images[p]) for p in PARTS) == len(ds)
    assert set().union(*(set(split.groups[p]) for p in PARTS)) == set(ds.patients)
    # about 15 % of the groups each in val and test
    assert 6 <= len(split.groups["test"]) <= 12 and 6 <= len(split.groups["val"]) <= 12


def test_stratification_is_roughly_kept():
    ds = _images(200, share_b=0.3)
    split = make_split(ds, val=0.2, test=0.2, seed=3)
    for part in PARTS:
        labels = Counter(s.label for s in select(ds, split, part))
        assert abs(labels["b"] / sum(labels.values()) - 0.3) < 0.05, (part, labels)


def test_groups_without_tumor_are_spread_over_the_parts():
    ds = _patients(60)
    split = make_split(ds, val=0.2, test=0.2, seed=1)
    tumor_free = {f"P{p:03d}" for p in range(60) if p % 3 == 0}
    for part in PARTS:
        share = len(tumor_free & set(split.groups[part])) / len(split.groups[part])
        assert abs(share - 1 / 3) < 0.1, (part, share)


def test_same_seed_same_split_other_seed_other_split():
    ds = _patients()
    shuffled = Dataset(ds.root, ds.layout, list(reversed(ds.samples)))
    assert make_split(ds, seed=7) == make_split(shuffled, seed=7)
    assert make_split(ds, seed=7).groups["test"] != make_split(ds, seed=8).groups["test"]


def test_kfold_tests_every_group_exactly_once():
    ds = _patients(50)
    folds = kfold(ds, k=5, seed=0)
    assert [f.fold for f in folds] == list(range(5))
    tested = Counter(g for f in folds for g in f.groups["test"])
    assert set(tested) == set(ds.patients) and set(tested.values()) == {1}
    for f in folds:
        assert not set(f.groups["train"]) & set(f.groups["test"])
        assert f.groups["val"] == ()


def test_kfold_with_val_keeps_three_disjoint_parts():
    ds = _patients(50)
    for f in kfold(ds, k=5, seed=0, val=0.2):
        parts = [set(f.groups[p]) for p in PARTS]
        assert sum(map(len, parts)) == 50 and len(set().union(*parts)) == 50
        assert 7 <= len(parts[1]) <= 13


def test_json_round_trip_with_relative_paths(tmp_path: Path):
    ds = _images(30)
    folds = kfold(ds, k=3, seed=5)
    path = tmp_path / "out" / "splits.json"
    save_splits(path, folds)
    doc = json.loads(path.read_text())
    assert (doc["seed"], doc["k"], doc["kind"]) == (5, 3, "kfold")
    assert doc["folds"][0]["test"]["images"][0].startswith("x")  # relative to the dataset root
    assert load_splits(path) == folds
    # the same dataset moved elsewhere selects the same images
    moved = Dataset(
        Path("/elsewhere"),
        ds.layout,
        [Sample(Path("/elsewhere") / s.image.name, s.label) for s in ds.samples],
    )
    assert [s.image.name for s in select(moved, load_splits(path)[1], "test")] == [
        s.image.name for s in select(ds, folds[1], "test")
    ]
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # atomic: no temporary left behind


def test_holdout_round_trip(tmp_path: Path):
    split = make_split(_patients(20), seed=2)
    save_splits(tmp_path / "splits.json", split)
    assert load_splits(tmp_path / "splits.json") == [split]
    assert json.loads((tmp_path / "splits.json").read_text())["kind"] == "holdout"


def test_bad_inputs_are_user_errors(tmp_path: Path):
    with pytest.raises(TumorscopeError, match="too few"):
        make_split(_images(2), val=0.3, test=0.3)
    with pytest.raises(TumorscopeError, match="test fraction"):
        make_split(_images(30), test=1.0)
    with pytest.raises(TumorscopeError, match="k >= 2"):
        kfold(_images(30), k=1)
    with pytest.raises(TumorscopeError, match="no such splits file"):
        load_splits(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"folds": []}')
    with pytest.raises(TumorscopeError, match="bad.json"):
        load_splits(tmp_path / "bad.json")


def test_select_refuses_a_split_of_another_dataset():
    split = make_split(_images(30), seed=0)
    with pytest.raises(TumorscopeError, match="lacks"):
        select(_patients(10), split, "test")
    with pytest.raises(TumorscopeError, match="unknown split part"):
        select(_images(30), split, "holdout")


def test_rare_label_combinations_do_not_break_stratification():
    ds = _images(40, share_b=0.3)
    ds.samples.append(Sample(image=ROOT / "rare.png", label="c"))
    split = make_split(ds, seed=0)
    assert sum(len(split.images[p]) for p in PARTS) == 41


@pytest.mark.shared_data
def test_lgg_five_folds_never_share_a_patient(lgg_dir: Path):
    ds = load_dataset(lgg_dir)
    folds = kfold(ds, k=5, seed=0, val=0.15)
    assert sorted(g for f in folds for g in f.groups["test"]) == ds.patients
    for f in folds:
        patients = {p: {s.patient_id for s in select(ds, f, p)} for p in PARTS}
        assert not patients["train"] & patients["val"]
        assert not patients["train"] & patients["test"]
        assert not patients["val"] & patients["test"]
        assert sum(len(f.images[p]) for p in PARTS) == 1522
        assert all(not Path(i).is_absolute() and i.startswith("kaggle_3m/") for i in f.images["test"])


def test_datasets_split_cli_writes_the_split_cv_and_train_would_make(tmp_path: Path, capsys):
    from tests.synthetic import write_kaggle3m
    from tumorscope.cli import main
    from tumorscope.options import TrainConfig
    from tumorscope.train.data_split import split_for_run

    data = write_kaggle3m(tmp_path / "lgg", n_patients=10, n_slices=3, size=16)
    assert main(["datasets", "split", str(data), "--folds", "3", "--val", "0.2", "--out", str(tmp_path / "cv.json")]) == 0
    assert "fold 2: train" in capsys.readouterr().out
    shared = load_splits(tmp_path / "cv.json")
    assert [s.fold for s in shared] == [0, 1, 2]
    for i in range(3):  # what `tumorscope cv --folds 3 --val-fraction 0.2` makes for fold i, by itself
        run = tmp_path / f"fold{i}"
        run.mkdir()
        split_for_run(TrainConfig(data=str(data), folds=3, fold=i, val_fraction=0.2, out=str(run)), run)
        assert load_splits(run / "splits.json")[0] == shared[i]
    assert main(["datasets", "split", str(data), "--test", "0", "--out", str(tmp_path / "final.json")]) == 0
    (final,) = load_splits(tmp_path / "final.json")
    assert final.fold is None and not final.groups["test"] and final.groups["val"] and final.groups["train"]


def test_datasets_split_records_the_command_that_remakes_it(tmp_path: Path, capsys):
    """The file keeps its own command; run again, that command writes the same folds (cards print it)."""
    import shlex

    from tests.synthetic import write_kaggle3m
    from tumorscope.cli import main
    from tumorscope.data.splits import split_command

    data = write_kaggle3m(tmp_path / "lgg", n_patients=8, n_slices=2, size=16)
    first = tmp_path / "cv.json"
    assert main(["datasets", "split", str(data), "--folds", "2", "--val", "0.2", "--seed", "3", "--out", str(first)]) == 0
    made_by = split_command(first)
    assert made_by == f"tumorscope datasets split {data} --folds 2 --val 0.2 --seed 3 --out {first}"
    again = tmp_path / "again.json"
    assert main(shlex.split(made_by)[1:-1] + [str(again)]) == 0
    assert load_splits(again) == load_splits(first)
    assert split_command(tmp_path / "missing.json") is None
