"""A long ``explain --evaluate`` saves each method as it finishes, a rerun resumes, and one failing method
neither loses the others nor passes unnoticed."""

import json
import logging

import pytest

from tumorscope.cli import main
from tumorscope.explain.methods import Explainer
from tumorscope.explain.parts import FOLDER


def _run(bundle, data, out, *methods, extra=()):
    return main(["explain", "--evaluate", "--model", str(bundle.path), "--data", str(data), "-o", str(out),
                 "--methods", *methods, "--max-slices", "3", "--steps", "4", "--boot", "20", *extra])


def _metrics(out):
    return json.loads((out / "explain_metrics.json").read_text())


def _computed(monkeypatch):
    """Names of the methods that get computed (attribute calls), from here on."""
    seen = []
    real = Explainer.attribute

    def spy(self, x, method, targets=None):
        seen.append(method)
        return real(self, x, method, targets)

    monkeypatch.setattr(Explainer, "attribute", spy)
    return seen


def test_a_rerun_skips_finished_methods_and_says_so(ens, tmp_path, monkeypatch, caplog):
    bundle, data, _ = ens
    out = tmp_path / "ev"
    assert _run(bundle, data, out, "gradcam", "saliency") == 0
    first = _metrics(out)
    assert sorted(p.name for p in (out / FOLDER).iterdir()) == ["baseline.json", "gradcam.json", "saliency.json"]
    seen = _computed(monkeypatch)
    with caplog.at_level(logging.INFO):
        assert _run(bundle, data, out, "gradcam", "saliency", "ig") == 0
    assert set(seen) == {"ig"}  # only the new method ran
    assert "gradcam: finished in an earlier run, skipped" in caplog.text
    assert "baseline: finished in an earlier run, skipped" in caplog.text  # the method list is not in the key
    again = _metrics(out)
    assert again["reused"] == ["gradcam", "saliency"] and set(again["methods"]) == {"gradcam", "saliency", "ig"}
    for m in ("gradcam", "saliency"):
        assert again["methods"][m]["deletion_auc"] == first["methods"][m]["deletion_auc"]
    assert again["per_slice"] == [r | {"methods": r["methods"] | {"ig": a["methods"]["ig"]}}
                                  for r, a in zip(first["per_slice"], again["per_slice"])]
    seen.clear()
    assert _run(bundle, data, out, "gradcam", extra=["--steps", "5"]) == 0  # other settings: computed again
    assert seen == ["gradcam"] * len(seen) and seen


def test_one_failing_method_is_recorded_and_the_others_complete(ens, tmp_path, monkeypatch, capsys):
    bundle, data, _ = ens
    out = tmp_path / "ev"

    def broken(self, x, select):
        raise RuntimeError("The size of tensor a (2) must match the size of tensor b (11)")

    monkeypatch.setattr(Explainer, "_saliency", broken)
    assert _run(bundle, data, out, "gradcam", "saliency", "ig") == 1
    err = capsys.readouterr().err
    assert "method saliency failed: RuntimeError: The size of tensor a (2)" in err and "1 method(s) failed" in err
    m = _metrics(out)
    assert set(m["methods"]) == {"gradcam", "ig"} and m["failed"] == {
        "saliency": "RuntimeError: The size of tensor a (2) must match the size of tensor b (11)"}
    assert not (out / FOLDER / "saliency.json").exists()
    monkeypatch.undo()
    seen = _computed(monkeypatch)
    assert _run(bundle, data, out, "gradcam", "saliency", "ig") == 0  # the retry computes only saliency
    assert set(seen) == {"saliency"} and set(_metrics(out)["methods"]) == {"gradcam", "saliency", "ig"}
    assert _metrics(out)["failed"] == {}


def test_an_interrupted_method_restarts_and_finished_ones_are_kept(ens, tmp_path, monkeypatch):
    bundle, data, _ = ens
    out = tmp_path / "ev"

    def interrupted(self, x, select):
        raise KeyboardInterrupt

    monkeypatch.setattr(Explainer, "_ig", interrupted)
    assert _run(bundle, data, out, "gradcam", "ig", "saliency") == 130
    saved = sorted(p.name for p in (out / FOLDER).iterdir())
    assert saved == ["baseline.json", "gradcam.json"]  # nothing half-written, no explain_metrics.json yet
    assert not (out / "explain_metrics.json").exists()
    monkeypatch.undo()
    seen = _computed(monkeypatch)
    assert _run(bundle, data, out, "gradcam", "ig", "saliency") == 0
    assert set(seen) == {"ig", "saliency"} and _metrics(out)["reused"] == ["gradcam"]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"key": "0" * 16, "part": "gradcam", "body": {}})])
def test_an_unreadable_or_foreign_part_is_computed_again(ens, tmp_path, monkeypatch, content):
    bundle, data, _ = ens
    out = tmp_path / "ev"
    (out / FOLDER).mkdir(parents=True)
    (out / FOLDER / "gradcam.json").write_text(content)
    seen = _computed(monkeypatch)
    assert _run(bundle, data, out, "gradcam") == 0
    assert seen and set(seen) == {"gradcam"} and _metrics(out)["reused"] == []
