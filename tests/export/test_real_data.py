"""The shipped LGG ensemble exported and verified on real validation patients (skipped without ../shared/data)."""

import shutil

import pytest

from tumorscope.bundle import load_bundle
from tumorscope.export.make import Exporter
from tumorscope.export.verify import choose_data

pytestmark = pytest.mark.shared_data


def test_lgg_ensemble_onnx_variant_passes_on_two_validation_patients(lgg_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    bundle = load_bundle(shutil.copytree(load_bundle("lgg-flair-seg").path, tmp_path / "lgg"))
    checks = choose_data(bundle, lgg_dir, 2)
    assert checks.description.startswith("validation 2 patients") and "split rebuilt" in checks.description
    checks.stacks = [s.__class__(s.id, s.patient_id, s.images[:8], s.masks[:8]) for s in checks.stacks]  # seconds
    record = Exporter(bundle, checks).make("onnx")
    ver = record["verification"]
    assert record["passed"], ver["summary"]
    assert ver["max_dice_change"] <= 0.005 and ver["mean_dice_change"] <= 0.002
    assert len(ver["per_patient"]) == 2 and ver["mean_dice_pytorch"] > 0.3
    reloaded = load_bundle(bundle.path)
    reloaded.runtime = "onnx"  # auto prefers the shipped OpenVINO variant
    assert reloaded.runtime_name == "onnx-fp32"
