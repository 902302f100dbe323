"""Platt scaling of an SVM that never reverses the SVM's ranking.

scikit-learn's ``CalibratedClassifierCV(method="sigmoid")`` (what ``SVC(probability=True)`` does) fits Platt's
sigmoid on cross-validated SVM scores. With few rows and weak features those scores anti-correlate with the labels
(each held-out row pulls its fold's boundary away from itself: "anti-learning"), the sigmoid then *falls* as the
score rises, and the calibrated SVM ranks backwards - measured on LGG grade II vs III with 58-62 training patients
per fold: pooled held-out AUC 0.34, below chance. scikit-learn has no monotonicity option for the sigmoid, hence
this small subclass: such a calibrator is refitted on the final SVM's own training scores (which rank the right
way by construction), so the probabilities keep the SVM's order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, _sigmoid_calibration


class PlattSVC(CalibratedClassifierCV):
    """``CalibratedClassifierCV(svc, method="sigmoid", ensemble=False)`` whose sigmoids all rise with the score;
    ``refitted_calibrators_``: how many had to be refitted."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **params: Any) -> PlattSVC:
        super().fit(X, y, sample_weight=sample_weight, **params)
        self.refitted_calibrators_ = 0
        y = np.asarray(y)
        targets = self.classes_[1:] if len(self.classes_) == 2 else self.classes_  # one calibrator per class (OvR)
        for fitted in self.calibrated_classifiers_:
            scores = np.asarray(fitted.estimator.decision_function(X), dtype=float).reshape(len(y), -1)
            for k, (cal, cls) in enumerate(zip(fitted.calibrators, targets)):
                if cal.a_ > 0:  # probability = expit(-(a * score + b)): a > 0 falls as the score rises
                    a, b = _sigmoid_calibration(scores[:, k], (y == cls).astype(int))
                    cal.a_, cal.b_ = min(float(a), 0.0), float(b)
                    self.refitted_calibrators_ += 1
        return self
