"""Classification figures (ROC, confusion matrix, reliability) drawn from arrays and from a metrics report."""

import numpy as np

from tests.synthetic import noisy_predictions
from tumorscope.evaluate.classification import classification_report
from tumorscope.report.figures import (
    FIGURES,
    confusion_plot,
    reliability_plot,
    roc_plot,
    write_classification_figures,
    write_evaluation_figures,
)
from tumorscope.results import MetricsReport

CLASSES = ["a", "b", "c"]
PNG = b"\x89PNG\r\n\x1a\n"




def test_plots_are_written(tmp_path):
    y, p = noisy_predictions()
    r = classification_report(y, p, CLASSES, n_boot=20)
    roc_plot(y, p, CLASSES, tmp_path / "roc.png")
    confusion_plot(np.array(r.confusion_matrix), CLASSES, tmp_path / "cm.png")
    reliability_plot(r.calibration_bins, r.value("ece"), tmp_path / "cal.png")
    for name in ("roc.png", "cm.png", "cal.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_roc_of_images_of_one_class_says_it_is_undefined_without_a_warning(tmp_path, recwarn):
    y, p = noisy_predictions()
    one = y == 0
    roc_plot(y[one], p[one], CLASSES, tmp_path / "roc.png")
    assert (tmp_path / "roc.png").read_bytes()[:8] == PNG
    assert not [w for w in recwarn if "legend" in str(w.message)]


def test_an_evaluations_figures_come_from_its_report(tmp_path):
    y, p = noisy_predictions(30)
    r = classification_report(y, p, CLASSES, n_boot=20)
    r.per_case = [{"path": f"x{i}.png", "true": CLASSES[t], "probabilities": dict(zip(CLASSES, map(float, row)))}
                  for i, (t, row) in enumerate(zip(y, p))]
    names = write_evaluation_figures(MetricsReport.from_json(r.to_json()), tmp_path / "ev")
    assert names == list(FIGURES)
    assert all((tmp_path / "ev" / n).read_bytes()[:8] == PNG for n in names)
    assert write_evaluation_figures(MetricsReport(task="segmentation"), tmp_path / "seg") == []
    assert not (tmp_path / "seg").exists()
    assert write_classification_figures(r, tmp_path / "again") == names
