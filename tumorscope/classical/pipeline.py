"""The scikit-learn Pipeline of a classical model: impute -> scale -> variance filter -> select -> estimator.

- imputation (median): features of a row whose ROI is empty (a blank end slice's foreground) are missing;
- scaling (``StandardScaler``), then ``VarianceThreshold`` drops features constant on the training rows;
- one feature selection (``--select METHOD:N``): ``univariate:K`` (ANOVA F, ``SelectKBest``), ``rfe:K``
  (recursive feature elimination with a linear SVM, 10% of the features per step), ``l1:C`` (L1 logistic
  regression of inverse strength C, ``SelectFromModel``), ``mrmr:K`` (minimum redundancy maximum relevance:
  mutual information with the label minus the mean absolute correlation with the features already chosen),
  ``importance:K`` (the K largest impurity importances of 200 extremely randomised trees), ``none``;
- the estimator: ``svm`` (RBF SVC; probabilities by Platt scaling on 5-fold cross-validated decision values), ``rf`` (random forest), ``gbm`` (histogram gradient
  boosting), ``logreg`` (L2 logistic regression); small defaults, ``--hparams NAME=VALUE,...`` overrides.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin

from tumorscope.errors import TumorscopeError

SELECTIONS = ("univariate", "rfe", "l1", "mrmr", "importance", "none")

# small models: the bundle stays a few MB and trains in seconds on ~1500 rows
DEFAULTS: dict[str, dict[str, Any]] = {
    "svm": {"C": 1.0, "gamma": "scale", "class_weight": "balanced"},
    "rf": {"n_estimators": 200, "min_samples_leaf": 3, "max_features": "sqrt", "class_weight": "balanced"},
    "gbm": {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "class_weight": "balanced"},
    "logreg": {"C": 1.0, "max_iter": 5000, "class_weight": "balanced"},
}


class MRMR(SelectorMixin, BaseEstimator):
    """Minimum redundancy maximum relevance (Peng et al. 2005, the MID form): greedily add the feature with the
    largest mutual information with the label minus its mean absolute Pearson correlation with those chosen."""

    def __init__(self, k: int = 20, random_state: int = 0):
        self.k = k
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> MRMR:
        from sklearn.feature_selection import mutual_info_classif

        X = np.asarray(X, dtype=float)
        relevance = mutual_info_classif(X, y, random_state=self.random_state)
        corr = np.abs(np.nan_to_num(np.corrcoef(X, rowvar=False))) if X.shape[1] > 1 else np.ones((1, 1))
        chosen = [int(np.argmax(relevance))]
        redundancy = corr[chosen[0]].copy()
        while len(chosen) < min(self.k, X.shape[1]):
            score = relevance - redundancy / len(chosen)
            score[chosen] = -np.inf
            best = int(np.argmax(score))
            chosen.append(best)
            redundancy += corr[best]
        self.support_ = np.zeros(X.shape[1], dtype=bool)
        self.support_[chosen] = True
        self.order_ = chosen
        self.n_features_in_ = X.shape[1]
        return self

    def _get_support_mask(self) -> np.ndarray:
        return self.support_


def parse_select(text: str) -> tuple[str, float | None]:
    """``univariate:50`` -> ("univariate", 50); ``none`` -> ("none", None). TumorscopeError for a bad one."""
    method, _, value = text.partition(":")
    if method not in SELECTIONS:
        raise TumorscopeError(f"--select {text!r}: choose {' | '.join(s + (':N' if s != 'none' else '') for s in SELECTIONS)}")
    if method == "none":
        return method, None
    try:
        number = float(value)
    except ValueError:
        raise TumorscopeError(f"--select {text!r}: give {method}:N (N features{', or C for l1' if method == 'l1' else ''})") from None
    if number <= 0 or (method != "l1" and number != int(number)):
        raise TumorscopeError(f"--select {text!r}: N must be a positive {'number' if method == 'l1' else 'integer'}")
    return method, number


def parse_hparams(text: str) -> dict[str, Any]:
    """``C=10,gamma=0.01,class_weight=none`` -> {"C": 10, "gamma": 0.01, "class_weight": None}."""
    params: dict[str, Any] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise TumorscopeError(f"--hparams {text!r}: give NAME=VALUE pairs separated by commas")
        params[name.strip()] = _value(value.strip())
    return params


def _value(text: str) -> Any:
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def selector(select: str, n_features_hint: int | None = None, seed: int = 0) -> Any:
    """The selection step for ``--select`` (``passthrough`` for none)."""
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.feature_selection import RFE, SelectFromModel, SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    method, number = parse_select(select)
    k = int(number) if number is not None and method != "l1" else 0
    if n_features_hint is not None and k > n_features_hint:
        k = n_features_hint
    if method == "univariate":
        return SelectKBest(f_classif, k=k)
    if method == "rfe":
        return RFE(LinearSVC(C=0.1, dual=False, max_iter=5000), n_features_to_select=k, step=0.1)
    if method == "l1":
        return SelectFromModel(LogisticRegression(penalty="l1", C=number, solver="liblinear", random_state=seed,
                                                  class_weight="balanced"))
    if method == "mrmr":
        return MRMR(k=k, random_state=seed)
    if method == "importance":
        return SelectFromModel(ExtraTreesClassifier(200, random_state=seed, n_jobs=1, class_weight="balanced"),
                               max_features=k, threshold=-np.inf)
    return "passthrough"


def estimator(model: str, hparams: dict[str, Any] | None = None, seed: int = 0) -> Any:
    """The estimator ``model`` with its small defaults, ``hparams`` applied (unknown names refused in one line)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    if model not in DEFAULTS:
        raise TumorscopeError(f"--model {model!r}: classical models are {', '.join(DEFAULTS)}")
    kinds = {"svm": lambda: SVC(random_state=seed),
             "rf": lambda: RandomForestClassifier(random_state=seed, n_jobs=1),
             "gbm": lambda: HistGradientBoostingClassifier(random_state=seed),
             "logreg": lambda: LogisticRegression()}
    est = kinds[model]()
    params = DEFAULTS[model] | (hparams or {})
    unknown = sorted(set(params) - set(est.get_params()))
    if unknown:
        raise TumorscopeError(f"--hparams: {model} has no parameter {unknown[0]!r} "
                              f"(it has {', '.join(sorted(est.get_params()))})")
    est.set_params(**params)
    if model == "svm":  # Platt scaling fitted on 5-fold cross-validated decision values, as SVC(probability=True)
        from tumorscope.classical.platt import PlattSVC  # does, but never reversing the SVM's ranking

        return PlattSVC(est, method="sigmoid", ensemble=False)
    return est


def build_pipeline(model: str, select: str = "univariate:50", hparams: dict[str, Any] | None = None,
                   seed: int = 0, n_features: int | None = None) -> Any:
    """The unfitted Pipeline (steps ``impute``, ``scale``, ``variance``, ``select``, ``model``)."""
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("variance", VarianceThreshold(1e-8)),
        ("select", selector(select, n_features, seed)),
        ("model", estimator(model, hparams, seed)),
    ])


def selected_columns(pipeline: Any, columns: list[str]) -> list[str]:
    """The feature names that reach the estimator of a fitted pipeline."""
    names = np.asarray(columns)
    names = names[pipeline.named_steps["variance"].get_support()]
    select = pipeline.named_steps["select"]
    if select != "passthrough":
        names = names[select.get_support()]
    return [str(n) for n in names]
