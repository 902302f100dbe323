"""The SVM's Platt scaling never ranks backwards: on noise with few rows the cross-validated calibration falls with
the score ("anti-learning"); PlattSVC refits such a sigmoid so the probabilities keep the SVM's order."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC

from tumorscope.classical.pipeline import build_pipeline
from tumorscope.classical.platt import PlattSVC


def _noise(seed: int, n: int = 40, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 15)), np.arange(n) % k


@pytest.mark.parametrize("k", [2, 3])
def test_probabilities_follow_the_svm_score_on_noise(k: int):
    refitted = plain_reversed = 0
    for seed in range(12):
        X, y = _noise(seed, k=k)
        model = PlattSVC(SVC(random_state=0), method="sigmoid", ensemble=False).fit(X, y)
        refitted += model.refitted_calibrators_
        scores = model.calibrated_classifiers_[0].estimator.decision_function(X).reshape(len(y), -1)
        if k == 2:  # binary: the positive class's probability rises with the score
            order = np.argsort(scores[:, 0])
            assert np.all(np.diff(model.predict_proba(X)[order, 1]) >= -1e-12), seed
        # every class's sigmoid, expit(-(a * score + b)), rises with its score (OvR probabilities are then normalised)
        assert all(cal.a_ <= 0 for cal in model.calibrated_classifiers_[0].calibrators), seed
        plain = CalibratedClassifierCV(SVC(random_state=0), method="sigmoid", ensemble=False).fit(X, y)
        plain_reversed += sum(cal.a_ > 0 for cal in plain.calibrated_classifiers_[0].calibrators)
    assert plain_reversed > 0 and refitted == plain_reversed  # the case happens on noise, and each one is fixed


def test_informative_rows_keep_the_cross_validated_calibration():
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    X = rng.normal(size=(200, 5)) + y[:, None] * 1.5
    model = build_pipeline("svm", select="univariate:5").fit(X, y)
    svm = model.named_steps["model"]
    assert isinstance(svm, PlattSVC) and svm.refitted_calibrators_ == 0
    assert svm.calibrated_classifiers_[0].calibrators[0].a_ < 0
