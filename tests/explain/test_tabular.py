"""Permutation importance for a tabular (radiomics-like) classifier."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tumorscope.explain.tabular import permutation_importances, write_importances_csv
from tumorscope.report.plots import importance_plot


def test_the_informative_feature_ranks_first_and_noise_scores_near_zero(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 4))
    y = (x[:, 2] + 0.3 * rng.standard_normal(300) > 0).astype(int)  # only "glcm_contrast" matters
    names = ["volume", "sphericity", "glcm_contrast", "mean_intensity"]
    model = LogisticRegression().fit(x[:200], y[:200])
    rows = permutation_importances(model, x[200:], y[200:], names, scoring="roc_auc", n_repeats=5)
    assert rows[0]["feature"] == "glcm_contrast" and rows[0]["importance"] > 0.2
    assert rows[0]["ci95"][0] <= rows[0]["importance"] <= rows[0]["ci95"][1]
    assert all(abs(r["importance"]) < 0.05 for r in rows[1:])
    write_importances_csv(rows, tmp_path / "imp.csv")
    lines = (tmp_path / "imp.csv").read_text().splitlines()
    assert lines[0] == "feature,importance,std,ci95_low,ci95_high" and lines[1].startswith("glcm_contrast,")
    importance_plot(rows, tmp_path / "imp.png")
    assert (tmp_path / "imp.png").read_bytes()[:4] == b"\x89PNG"


def test_feature_names_must_match_the_columns():
    x = np.zeros((4, 2))
    model = LogisticRegression().fit(np.array([[0, 0], [1, 1], [0, 1], [1, 0]]), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="3 feature names for 2 columns"):
        permutation_importances(model, x, [0, 1, 0, 1], ["a", "b", "c"])
