"""One short real-data run: a few brain MRI JPEGs per class (linked, never copied), 1 epoch, then predict."""

import json

import pytest

from tumorscope.cli import main


@pytest.mark.shared_data
def test_brain_four_class_smoke(brain4_dir, tmp_path):
    data = tmp_path / "brain"
    for c in ("glioma", "meningioma", "notumor", "pituitary"):
        (data / c).mkdir(parents=True)
        for f in sorted((brain4_dir / "Training" / c).glob("*.jpg"))[:6]:
            (data / c / f.name).symlink_to(f)
    run = tmp_path / "run"
    assert main(["train", "--task", "classification", "--data", str(data), "--model", "resnet18", "--width", "8",
                 "--size", "32", "--channels", "gray", "--epochs", "1", "--threads", "1", "--folds", "3", "--fold", "0",
                 "--out", str(run)]) == 0
    m = json.loads((run / "test_metrics.json").read_text())
    assert m["classes"] == ["glioma", "meningioma", "notumor", "pituitary"] and m["n"] >= 4
    test_image = sorted((brain4_dir / "Testing" / "pituitary").glob("*.jpg"))[0]
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(run), "-i", str(test_image), "-o", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["predicted"] in m["classes"]
