"""Reports built once per session from a tiny trained segmentation run and a tiny classifier."""

import json

import numpy as np
import pytest

from tests.explain.helpers import tiny_classification_bundle, write_busi
from tests.synthetic import write_kaggle3m
from tumorscope.cli import main

TINY = ["--size", "32", "--width", "4", "--batch-size", "8", "--threads", "1", "--augment", "none"]


@pytest.fixture(scope="session")
def seg_report(tmp_path_factory):
    """(report.html, run folder): run + evaluation + faithfulness folders of one tiny segmentation run."""
    root = tmp_path_factory.mktemp("seg_report")
    data = write_kaggle3m(root / "lgg", n_patients=4, n_slices=4, size=32)
    run = root / "run"
    assert main(["train", "--task", "segmentation", "--data", str(data), "--model", "unet2d", "--epochs", "1",
                 "--out", str(run), "--val-fraction", "0.5", *TINY]) == 0
    assert main(["evaluate", "--model", str(run), "--data", str(data), "--out", str(run / "eval"), "--boot", "20"]) == 0
    assert main(["explain", "--evaluate", "--model", str(run), "--data", str(data), "-o", str(run / "explain"),
                 "--methods", "gradcam", "saliency", "--max-slices", "3", "--boot", "20"]) == 0
    out = root / "report.html"
    assert main(["report", str(run), str(run / "eval"), str(run / "explain"), "-o", str(out)]) == 0
    return out, run


@pytest.fixture(scope="session")
def cls_report(tmp_path_factory):
    """(report.html, eval folder) of a tiny classifier evaluated on BUSI-like images (metrics.json in the
    classification evaluator's format, with its ``predictions`` list)."""
    from tumorscope.data.dataset import load_dataset
    from tumorscope.evaluate.classification import classification_metrics
    from tumorscope.predict.classify import predict_files

    root = tmp_path_factory.mktemp("cls_report")
    classes = ["benign", "malignant", "normal"]
    bundle = tiny_classification_bundle(root / "cls_bundle", classes, steps=5)
    samples = load_dataset(write_busi(root / "busi", n_per_class=3)).samples
    res = predict_files(bundle, [s.image for s in samples])
    y = np.array([classes.index(s.label) for s in samples])
    metrics = classification_metrics(y, res.probs, classes, n_boot=20)
    metrics["predictions"] = [
        {"path": str(s.image), "group": None, "true": s.label, "predicted": classes[int(p.argmax())],
         "probabilities": {c: float(v) for c, v in zip(classes, p)}} for s, p in zip(samples, res.probs)
    ]
    metrics.update({"model": bundle.name, "data": str(root / "busi"), "split": None})
    ev = root / "eval"
    ev.mkdir()
    (ev / "metrics.json").write_text(json.dumps(metrics))
    out = root / "report.html"
    assert main(["report", str(ev), "--model", str(bundle.path), "-o", str(out)]) == 0
    return out, ev
