"""``tumorscope compare --tests`` on evaluation folders written by the evaluate stage's own writers."""

import json

import numpy as np
import pytest

from tests.evaluate.synthetic_runs import CLASSES, N, write_classification_eval, write_segmentation_eval
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.compare_tests import pairwise_tests
from tumorscope.evaluate.significance import delong_test, mcnemar_test


def test_two_classification_runs_are_tested_pair_by_pair(tmp_path, capsys):
    weak = write_classification_eval(tmp_path / "weak", skill=0.6, seed=1)
    strong = write_classification_eval(tmp_path / "strong", skill=2.5, seed=2)
    md, js = tmp_path / "table.md", tmp_path / "table.json"
    assert main(["compare", "--tests", "--boot", "300", str(weak), str(strong), "-o", str(md), "--json", str(js)]) == 0
    text = md.read_text()
    assert "| Model | Training | Accuracy | Precision | Recall | F1 | AUC |" in text  # the table stays as it was
    assert "| A | B | Paired | Metric | A value | B value | B − A [95% CI] | Test | p | Holm p |" in text
    data = json.loads(js.read_text())
    assert data["schema"] == "tumorscope.compare/1" and data["table_markdown"] in text
    (pair,) = data["tests"]["pairs"]
    assert (pair["n_items"], pair["n_a"], pair["n_b"]) == (N, N, N)
    acc, auc = pair["tests"]
    # the numbers are those of the tests run directly on the two folders' predictions
    rows = {name: json.loads((tmp_path / name / "metrics.json").read_text())["predictions"] for name in ("weak", "strong")}
    y = np.array([CLASSES.index(r["true"]) for r in rows["weak"]])
    pa, pb = (np.array([[r["probabilities"][c] for c in CLASSES] for r in rows[n]]) for n in ("weak", "strong"))
    p, _, fixed, broke = mcnemar_test(pa.argmax(1) == y, pb.argmax(1) == y)
    assert acc["metric"] == "accuracy" and acc["p"] == pytest.approx(p) and f"({fixed} fixed, {broke} broken)" in acc["test"]
    direct = delong_test(y, pa, pb, [r["group"] for r in rows["weak"]])
    assert auc["metric"] == "auc_macro" and auc["p"] == pytest.approx(direct.p) and auc["test"] == "DeLong (clustered)"
    assert (auc["n"], auc["unit"]) == (40, "patient")  # 40 patients of 3 images: the unit resampled and clustered
    for t in (acc, auc):
        assert t["low"] < t["difference"] < t["high"] and t["difference"] == pytest.approx(t["b"] - t["a"])
        assert t["low"] > 0 and t["p"] < 0.01  # the strong run is better, and the paired tests see it
        assert t["p_holm"] == pytest.approx(t["p"])  # one pair: Holm changes nothing
    assert f"written: {js}" in capsys.readouterr().out


def test_holm_runs_across_every_pair(tmp_path):
    runs = [write_classification_eval(tmp_path / f"r{i}", skill=s, seed=i) for i, s in enumerate((1.0, 1.1, 2.5))]
    result = pairwise_tests(runs, names=["one", "two", "three"], n_boot=100)
    assert [(p["a"], p["b"]) for p in result["pairs"]] == [("one", "two"), ("one", "three"), ("two", "three")]
    for metric in ("accuracy", "auc_macro"):
        tests = [t for p in result["pairs"] for t in p["tests"] if t["metric"] == metric]
        ps = sorted(t["p"] for t in tests)
        assert min(t["p_holm"] for t in tests) == pytest.approx(min(3 * ps[0], 1))
        assert all(t["p_holm"] >= t["p"] for t in tests)


def test_runs_pair_on_the_images_both_held_out(tmp_path):
    full = write_classification_eval(tmp_path / "full", skill=1.0, seed=1)
    part = write_classification_eval(tmp_path / "part", skill=1.0, seed=2, keep=slice(0, 60))
    (pair,) = pairwise_tests([full, part], n_boot=50)["pairs"]
    assert (pair["n_items"], pair["n_a"], pair["n_b"]) == (60, N, 60)


def test_runs_on_different_splits_are_refused_in_one_line(tmp_path, capsys):
    first = write_classification_eval(tmp_path / "first", skill=1.0, seed=1, keep=slice(0, 60))
    second = write_classification_eval(tmp_path / "second", skill=1.0, seed=2, keep=slice(60, None))
    assert main(["compare", "--tests", str(first), str(second)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(first) in err and str(second) in err and "share no held-out image" in err
    assert main(["compare", str(first), str(second)]) == 0  # the table alone still compares them


def test_runs_that_disagree_on_labels_are_refused(tmp_path):
    a = write_classification_eval(tmp_path / "a", skill=1.0, seed=1)
    b = write_classification_eval(tmp_path / "b", skill=1.0, seed=2)
    body = json.loads((b / "metrics.json").read_text())
    body["predictions"][0]["true"] = next(c for c in CLASSES if c != body["predictions"][0]["true"])
    (b / "metrics.json").write_text(json.dumps(body))
    with pytest.raises(TumorscopeError, match="disagree on the label of 1 of 120"):
        pairwise_tests([a, b])


def test_segmentation_runs_compare_per_patient_dice(tmp_path):
    rng = np.random.default_rng(3)
    base = rng.beta(6, 2, 30)
    a = write_segmentation_eval(tmp_path / "unet", base)
    b = write_segmentation_eval(tmp_path / "unet_big", np.clip(base + 0.04 + rng.normal(0, 0.02, 30), 0, 1))
    md = tmp_path / "seg.md"
    assert main(["compare", "--tests", "--boot", "500", str(a), str(b), "-o", str(md)]) == 0
    text = md.read_text()
    assert "| Model | Training | Dice | Dice median | IoU | HD95 (mm) | Evaluated on | Train time |" in text
    assert f"| {a} | {b} | 30 patients | dice |" in text
    (pair,) = pairwise_tests([a, b], n_boot=500)["pairs"]
    dice = next(t for t in pair["tests"] if t["metric"] == "dice")
    assert dice["test"] == "Wilcoxon signed-rank" and dice["p"] < 0.001 and dice["low"] > 0
    assert dice["low"] <= 0.04 <= dice["high"] + 0.01
    assert {t["metric"] for t in pair["tests"]} == {"dice", "iou", "hd95"}


def test_classification_and_segmentation_runs_are_not_mixed(tmp_path):
    cls = write_classification_eval(tmp_path / "cls", skill=1.0, seed=1)
    seg = write_segmentation_eval(tmp_path / "seg", np.full(5, 0.8))
    with pytest.raises(TumorscopeError, match="cannot pair a classification run"):
        pairwise_tests([cls, seg])
    assert main(["compare", str(cls), str(seg)]) == 2


def test_real_segmentation_evaluations_pair_by_patient(tiny_seg_run, tmp_path):
    """A trained U-Net (2 epochs, synthetic kaggle_3m) evaluated twice by the evaluate stage, TTA on and off: the
    two folders pair on every patient, and the Dice values tested are the ones per_patient.csv holds."""
    root, run = tiny_seg_run
    evals = []
    for tta in ("--tta", "--no-tta"):
        out = tmp_path / tta.strip("-")
        assert main(["evaluate", "--model", str(run), "--data", str(root), "--out", str(out), tta, "--boot", "50"]) == 0
        evals.append(out)
    result = pairwise_tests(evals, n_boot=200)
    (pair,) = result["pairs"]
    rows = [json.loads((e / "metrics.json").read_text())["per_patient"] for e in evals]
    assert pair["n_items"] == len(rows[0]) == len(rows[1]) > 1
    dice = next(t for t in pair["tests"] if t["metric"] == "dice")
    assert dice["a"] == pytest.approx(np.mean([r["dice"] for r in rows[0]]))
    assert dice["b"] == pytest.approx(np.mean([r["dice"] for r in rows[1]]))
    assert dice["low"] <= dice["difference"] <= dice["high"] and 0 <= dice["p"] <= 1
    table = tmp_path / "t.md"
    assert main(["compare", *map(str, evals), "--names", "tta", "plain", "-o", str(table)]) == 0
    text = table.read_text()
    for name, body in zip(("tta", "plain"), evals):
        dice = json.loads((body / "metrics.json").read_text())["estimates"]["dice_mean"]
        assert f"| {name} | - | {dice['value']:.3f} [{dice['low']:.3f}, {dice['high']:.3f}] |" in text


def test_undefined_metrics_are_said_not_failed(tmp_path):
    """Shared images of one class only: no AUC to test (said in the row); HD95 undefined for every patient: no row."""
    a = write_classification_eval(tmp_path / "a", skill=1.0, seed=1)
    b = write_classification_eval(tmp_path / "b", skill=1.0, seed=2)
    for run in (a, b):
        body = json.loads((run / "metrics.json").read_text())
        body["predictions"] = [r for r in body["predictions"] if r["true"] == "glioma"]
        (run / "metrics.json").write_text(json.dumps(body))
    acc, auc = pairwise_tests([a, b], n_boot=50)["pairs"][0]["tests"]
    assert acc["p"] is not None and auc["test"] == "undefined (one class)" and auc["p"] is None
    seg = [write_segmentation_eval(tmp_path / f"s{i}", np.full(6, 0.5 + i / 10)) for i in (1, 2)]
    for run in seg:
        body = json.loads((run / "metrics.json").read_text())
        for r in body["per_patient"]:
            r["hd95"] = None
        (run / "metrics.json").write_text(json.dumps(body))
    (pair,) = pairwise_tests(seg, n_boot=50)["pairs"]
    assert [t["metric"] for t in pair["tests"]] == ["dice", "iou"]


def test_presence_score_follows_the_masks_decision():
    from tumorscope.evaluate.segmentation import presence_score

    prob = np.zeros((4, 3, 3))
    prob[0, 1, 1] = 0.9  # kept by the post-processing: tumor
    prob[1, 1, 1] = 0.7  # removed (too small): not tumor, whatever its probability
    prob[2, 0, 0] = 0.2
    pred = np.zeros_like(prob, dtype=bool)
    pred[0, 1, 1] = True
    s = presence_score(prob, pred)
    assert s[0] == pytest.approx(0.95) and s[1] == pytest.approx(0.35) and s[2] == pytest.approx(0.1) and s[3] == 0
    assert list(s > 0.5) == [True, False, False, False] and s[1] > s[2] > s[3]  # ranked within each side


def test_a_segmentation_run_pairs_with_slice_classifiers_as_their_slices(tiny_seg_run, tmp_path, capsys):
    """The evaluate stage writes each slice's tumor decision; ``--presence`` pairs them with a slice classifier's
    predictions on the same images (written by the classification writers), and only with the flag."""
    from tumorscope.evaluate.classification import classification_report, prediction_rows
    from tumorscope.evaluate.segmentation import PRESENCE_CLASSES

    root, run = tiny_seg_run
    seg = tmp_path / "seg"
    assert main(["evaluate", "--model", str(run), "--data", str(root), "--out", str(seg), "--boot", "50"]) == 0
    body = json.loads((seg / "metrics.json").read_text())
    slices = body["slice_predictions"]
    assert len(slices) == body["n_slices"] and {r["group"] for r in slices} == {r["id"] for r in body["per_patient"]}
    assert sum(r["true"] == "tumor" for r in slices) == body["n_tumor_slices"]
    fp = sum(r["predicted"] == "tumor" and r["true"] == "no_tumor" for r in slices)
    assert fp == body["false_positive_slices"]  # the same decision as the segmentation's own slice counts
    # a slice classifier on the same images that knows the truth up to noise
    rng = np.random.default_rng(0)
    y = np.array([PRESENCE_CLASSES.index(r["true"]) for r in slices])
    p_tumor = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.2, len(y)), 0.01, 0.99)
    probs = np.stack([1 - p_tumor, p_tumor], 1)
    report = classification_report(y, probs, PRESENCE_CLASSES, [r["group"] for r in slices], n_boot=50)
    report.per_case = prediction_rows([r["path"] for r in slices], [r["group"] for r in slices],
                                      [None] * len(y), y, probs, PRESENCE_CLASSES)
    cls = tmp_path / "cls"
    cls.mkdir()
    report.write(cls / "metrics.json")
    with pytest.raises(TumorscopeError, match="cannot pair a classification run"):
        pairwise_tests([cls, seg])
    (pair,) = pairwise_tests([cls, seg], n_boot=50, presence=True)["pairs"]
    assert pair["n_items"] == len(slices)
    acc = next(t for t in pair["tests"] if t["metric"] == "accuracy")
    assert acc["b"] == pytest.approx(np.mean([r["predicted"] == r["true"] for r in slices]))
    table = tmp_path / "t.md"
    assert main(["compare", "--tests", "--presence", "--boot", "50", str(cls), str(seg), "--names", "classifier",
                 "U-Net", "-o", str(table)]) == 0
    text = table.read_text()
    assert "| U-Net |" in text and "its slices' tumor decision" in text and "non-empty" in text
    assert "| Sensitivity (tumor) | Specificity (tumor-free) |" in text  # a presence table shows both rates
    tumor = [r for r in slices if r["true"] == "tumor"]
    sens = np.mean([r["predicted"] == "tumor" for r in tumor])
    unet_row = next(line for line in text.splitlines() if line.startswith("| U-Net |"))
    assert f"| {sens:.3f} [" in unet_row
    assert main(["compare", "--presence", str(cls), str(tmp_path / "missing")]) == 2
    capsys.readouterr()
