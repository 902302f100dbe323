"""Classical models (SVM, random forest, gradient boosting, logistic regression) on radiomics features.

A scikit-learn Pipeline (pipeline.py: imputation, scaling, variance filter, one feature selection, the estimator)
fitted on rows of a ``tumorscope features`` table (rows.py: extracted on the fly with the ROI that exists at
prediction time, or read from ``--features``; labels from the masks or a data.csv column), bundled like the deep
models (tumorscope.bundle.classical), scored per slice by ``evaluate`` / ``predict`` (scoring.py) and explained by
SHAP values and permutation importance (tumorscope.explain.tabular). ``tumorscope train --model svm|rf|gbm|logreg`` runs it
(tumorscope.train.classical). docs/classical.md.
"""

from tumorscope.bundle.classical import CLASSICAL_MODELS, is_classical

__all__ = ["CLASSICAL_MODELS", "is_classical"]
