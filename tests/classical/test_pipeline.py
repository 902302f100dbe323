"""The classical pipelines on separable synthetic tables with a known answer: every selection finds the informative
features, every model separates held-out rows, mRMR skips a redundant copy, SHAP and permutation importance rank
the informative features first, and bad options are one clear line."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tumorscope.classical.pipeline import MRMR, build_pipeline, parse_hparams, parse_select, selected_columns
from tumorscope.errors import TumorscopeError
from tumorscope.explain.tabular import pipeline_importance

INFORMATIVE = ["f0", "f1", "f2"]


def _table(n: int = 400, p: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows whose label is decided by f0 + f1 - f2 (plus a little noise); 27 pure-noise features, one constant,
    a few missing cells."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[:, 3] = 5.0  # constant: the variance filter drops it
    y = np.where(X[:, 0] + X[:, 1] - X[:, 2] + 0.3 * rng.standard_normal(n) > 0, "tumor", "no_tumor")
    X[rng.integers(0, n, 10), rng.integers(4, p, 10)] = np.nan  # imputed
    return X, y, [f"f{i}" for i in range(p)]


@pytest.mark.parametrize("select", ["univariate:3", "rfe:3", "mrmr:3", "importance:3", "l1:0.05"])
def test_each_selection_keeps_the_informative_features(select: str):
    X, y, names = _table()
    pipe = build_pipeline("logreg", select, n_features=X.shape[1]).fit(X, y)
    chosen = selected_columns(pipe, names)
    assert set(INFORMATIVE) <= set(chosen)
    if select != "l1:0.05":
        assert len(chosen) == 3
    assert "f3" not in chosen


@pytest.mark.parametrize("model", ["svm", "rf", "gbm", "logreg"])
def test_each_model_separates_held_out_rows(model: str):
    X, y, _ = _table(600)
    pipe = build_pipeline(model, "univariate:5", n_features=X.shape[1]).fit(X[:400], y[:400])
    tumor = list(pipe.classes_).index("tumor")
    auc = roc_auc_score(y[400:] == "tumor", pipe.predict_proba(X[400:])[:, tumor])
    assert auc > 0.9, (model, auc)


def test_mrmr_leaves_out_a_redundant_copy():
    rng = np.random.default_rng(1)
    n = 500
    strong, weak = rng.standard_normal(n), rng.standard_normal(n)
    y = (2 * strong + weak + 0.2 * rng.standard_normal(n) > 0).astype(int)
    X = np.column_stack([strong, strong + 0.01 * rng.standard_normal(n), weak, rng.standard_normal(n)])
    sel = MRMR(k=2).fit(X, y)
    assert sel.order_[0] in (0, 1)  # the strong feature (either copy) first...
    assert sel.order_[1] == 2  # ...then the weak but new one, not the redundant copy
    assert sel.get_support().sum() == 2


def test_importance_ranks_the_informative_features_first():
    X, y, names = _table(500)
    pipe = build_pipeline("svm", "univariate:6", n_features=X.shape[1]).fit(X[:350], y[:350])
    classes = list(pipe.classes_)
    y_val = np.array([classes.index(t) for t in y[350:]])
    rows = pipeline_importance(pipe, X[350:], y_val, X[:350], names, classes.index("tumor"), n_explain=60,
                               n_background=20, n_repeats=5)
    assert len(rows) == 6 and [r["rank"] for r in rows] == list(range(1, 7))
    assert {r["feature"] for r in rows[:3]} == set(INFORMATIVE)
    top = sorted(rows, key=lambda r: -r["importance"])[:3]
    assert {r["feature"] for r in top} == set(INFORMATIVE)
    assert all(r["importance"] > 0.05 and r["ci95"][0] > 0 for r in top)


def test_options_are_parsed_or_refused_in_one_line():
    assert parse_select("univariate:20") == ("univariate", 20.0)
    assert parse_select("l1:0.5") == ("l1", 0.5)
    assert parse_select("none") == ("none", None)
    assert parse_hparams("C=10,gamma=scale,class_weight=none,probability=true") == {
        "C": 10, "gamma": "scale", "class_weight": None, "probability": True}
    for bad in ("pca:5", "univariate", "rfe:2.5", "mrmr:0"):
        with pytest.raises(TumorscopeError, match="--select"):
            parse_select(bad)
    with pytest.raises(TumorscopeError, match="NAME=VALUE"):
        parse_hparams("C10")
    with pytest.raises(TumorscopeError, match="svm has no parameter 'n_estimators'"):
        build_pipeline("svm", hparams={"n_estimators": 5})
    with pytest.raises(TumorscopeError, match="classical models are"):
        build_pipeline("xgb")


def test_patient_relative_features_are_median_and_iqr_scaled_per_patient():
    from tumorscope.classical.rows import patient_relative

    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [10.0, np.nan], [30.0, np.nan]])
    rel = patient_relative(X, ["a", "a", "a", "b", "b"])
    assert rel[:3, 0] == pytest.approx([-1.0, 0.0, 1.0])  # median 2, IQR 1
    assert rel[:3, 1] == pytest.approx([0.0, 0.0, 0.0])  # constant: IQR 0 -> divided by 1
    assert rel[3:, 0] == pytest.approx([-1.0, 1.0])  # median 20, IQR 10
    assert np.isnan(rel[3:, 1]).all()
    assert (patient_relative(X, [None] * 5)[:, 0] == 0).all()  # no patient id: each row alone
