"""The drift monitor: rolling windows per model, PSI/KS against the bundle's reference, drift flags and their
thresholds, thread safety; and the feature helpers the app calls after each prediction."""

import threading

import numpy as np
import pytest

from tumorscope.bundle import load_bundle
from tumorscope.bundle.reference import build_reference
from tumorscope.serve.monitoring import (
    KS_PVALUE,
    MIN_LIVE,
    MIN_LIVE_PSI,
    PSI_DRIFT,
    DriftMonitor,
    features_for_classification,
    features_for_segmentation,
)

_rng = np.random.default_rng(0)
REFERENCE = build_reference({"a": _rng.normal(size=2000), "b": _rng.uniform(size=2000)}, "synthetic", n_inputs=2000)


def test_same_distribution_is_not_drift():
    rng = np.random.default_rng(1)
    mon = DriftMonitor()
    mon.observe("m", REFERENCE, {"a": rng.normal(size=300), "b": rng.uniform(size=300)})
    r = mon.report()["m"]
    assert r["reference"] is True and r["n_live"] == 300 and r["n_inputs"] == 1 and r["reference_inputs"] == 2000
    assert r["drift"] is False
    for f in r["features"].values():
        assert f["n_live"] == 300 and f["n_reference"] == 2000 and not f["drift"]
        assert f["psi"] < 0.1 and f["ks_pvalue"] > KS_PVALUE


def test_shifted_inputs_are_drift():
    rng = np.random.default_rng(2)
    mon = DriftMonitor()
    for _ in range(10):  # ten inputs of 30 slices
        mon.observe("m", REFERENCE, {"a": rng.normal(1.5, size=30), "b": rng.uniform(size=30)})
    r = mon.report()["m"]
    assert r["drift"] is True and r["n_inputs"] == 10
    a, b = r["features"]["a"], r["features"]["b"]
    assert a["drift"] and a["psi"] > PSI_DRIFT and a["ks_pvalue"] < KS_PVALUE and a["ks"] > 0.4
    assert not b["drift"]


def test_few_live_values_are_reported_but_never_flagged():
    rng = np.random.default_rng(3)
    mon = DriftMonitor()
    mon.observe("m", REFERENCE, {"a": rng.normal(3.0, size=MIN_LIVE - 1)})
    f = mon.report()["m"]["features"]["a"]
    assert f["psi"] > PSI_DRIFT and f["ks_pvalue"] < KS_PVALUE and not f["drift"]
    mon.observe("m", REFERENCE, {"a": rng.normal(3.0, size=1)})
    assert mon.report()["m"]["features"]["a"]["drift"]  # MIN_LIVE reached: KS alone may flag
    assert MIN_LIVE < MIN_LIVE_PSI  # PSI flags only on larger samples (its noise on 30 values is large)


def test_a_model_without_reference_reports_live_counts_only():
    rng = np.random.default_rng(4)
    mon = DriftMonitor()
    mon.observe("plain", None, {"a": np.arange(50.0)})
    r = mon.report()["plain"]
    assert r["reference"] is False and r["drift"] is False and r["reference_inputs"] is None
    assert r["features"]["a"] == {"n_live": 50, "n_reference": 0, "psi": None, "ks": None, "ks_pvalue": None,
                                  "drift": False}
    mon.observe("m", REFERENCE, {"a": rng.normal(size=5)})  # a reference feature with no live value yet
    assert mon.report()["m"]["features"]["b"]["n_live"] == 0 and mon.report()["m"]["features"]["b"]["psi"] is None


def test_window_keeps_the_latest_values_and_reset_forgets():
    rng = np.random.default_rng(5)
    mon = DriftMonitor(window=100)
    mon.observe("m", REFERENCE, {"a": rng.normal(5.0, size=80)})
    mon.observe("m", REFERENCE, {"a": rng.normal(size=70), "b": [np.nan] * 70})  # non-finite values skipped
    r = mon.report()["m"]
    assert (r["n_live"], r["n_observed"], r["n_inputs"]) == (100, 150, 2)
    assert r["features"]["a"]["n_live"] == 100 and r["features"]["b"]["n_live"] == 0
    for _ in range(2):
        mon.observe("m", REFERENCE, {"a": rng.normal(size=100)})
    assert not mon.report()["m"]["drift"]  # the shifted values left the window
    report = mon.report()
    report["m"]["drift"] = "edited"
    assert mon.report()["m"]["drift"] is False  # callers get copies
    mon.reset("m")
    assert mon.report() == {}
    with pytest.raises(ValueError):
        DriftMonitor(window=0)


def test_concurrent_observers_and_reporters():
    mon = DriftMonitor(window=10_000)

    def worker(i: int) -> None:
        own = np.random.default_rng(i)  # a Generator per thread
        for _ in range(30):
            mon.observe(f"m{i % 2}", REFERENCE, {"a": own.normal(size=4)})
            mon.report()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = mon.report()
    assert r["m0"]["n_observed"] == r["m1"]["n_observed"] == 3 * 30 * 4
    assert r["m0"]["features"]["a"]["n_live"] == 360 and r["m0"]["n_inputs"] == 90


def test_feature_helpers_merge_input_and_output_features():
    rng = np.random.default_rng(7)
    slices = rng.integers(0, 255, size=(3, 16, 16, 3)).astype(np.uint8)
    prob = rng.uniform(size=(3, 16, 16)).astype(np.float32)
    seg = features_for_segmentation(slices, prob, prob > 0.5)
    assert set(seg) == {"intensity_mean", "intensity_std", "intensity_p99", "tumor_fraction", "max_probability"}
    assert all(len(v) == 3 for v in seg.values())
    cls = features_for_classification([slices[0], slices[1, :8]], np.array([[0.9, 0.1], [0.3, 0.7]]), ["a", "b"])
    assert set(cls) == {"intensity_mean", "intensity_std", "intensity_p99", "max_probability", "p_a", "p_b"}


def test_a_zoo_reference_against_its_own_kind_and_another_kind_of_image():
    """The colon classifier's reference (H&E tiles: bright, 99th percentile saturated at 255) against live
    values drawn from it, and against dark gray images of another modality."""
    rng = np.random.default_rng(8)
    bundle = load_bundle("colon-histo-tumor")
    ref = bundle.reference
    same = {k: np.asarray(v["values"])[::2] for k, v in ref["features"].items()}
    mon = DriftMonitor()
    mon.observe(bundle.name, ref, same)
    assert mon.report()[bundle.name]["drift"] is False
    dark = rng.normal(60, 20, size=(40, 32, 32, 1)).clip(0, 255)
    probs = np.tile([0.5, 0.5], (40, 1))
    mon.reset()
    mon.observe(bundle.name, ref, features_for_classification(dark, probs, bundle.classes))
    r = mon.report()[bundle.name]["features"]
    assert r["intensity_mean"]["drift"] and r["intensity_p99"]["drift"] and r["max_probability"]["drift"]
