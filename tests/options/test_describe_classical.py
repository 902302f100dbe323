"""compare's "Training" column for a classical model names its features and selection, never epochs."""

from tumorscope.options.describe import describe


def test_a_classical_run_is_described_by_its_features():
    cfg = {"model": "rf", "features": "runs/x/busi_radiomics.csv", "select": "mrmr:20", "hparams": "n_estimators=300",
           "epochs": 40, "keep": "last"}
    assert describe({"path": "runs/x/busi_rf", "config": cfg}) == (
        "rf", "features: busi_radiomics.csv; select mrmr:20, n_estimators=300")
    assert describe({"path": "r", "config": {"model": "svm", "roi": "whole", "select": "univariate:50"}}) == (
        "svm", "features: whole radiomics; select univariate:50")
