"""`tumorscope export`: a variant is verified on real-format validation data, kept and recorded only when it
matches the float32 PyTorch network, and predict then runs it."""

import copy
import json
import shutil
from dataclasses import replace

import pytest
import torch

from tumorscope.bundle import load_bundle
from tumorscope.bundle.runtime import choose
from tumorscope.bundle.variants import read_variants
from tumorscope.errors import TumorscopeError
from tumorscope.export.make import Exporter
from tumorscope.export.verify import choose_data, run


def test_export_keeps_a_verified_variant_with_its_numbers_in_variants_json_and_card(tiny_seg_variant):
    root, folder, record = tiny_seg_variant
    assert record["passed"] and record["verification"]["max_dice_change"] <= 0.005
    assert "validation 2 patients" in record["verification"]["data"]  # the run's own validation part
    table = read_variants(folder)
    assert table["openvino-fp32"]["files"].keys() == {"network.xml.gz", "network.bin"}
    assert "| openvino-fp32 |" in (folder / "card.md").read_text()
    assert "## Exported runtimes" in (folder / "card.md").read_text()
    bundle = load_bundle(folder)
    assert bundle.runtime_name == "openvino-fp32"  # auto picks the verified variant
    assert choose(bundle, "pytorch")[0] == "pytorch"


def test_a_changed_variant_file_is_not_run(tiny_seg_variant, tmp_path, caplog):
    _, folder, _ = tiny_seg_variant
    copy_ = shutil.copytree(folder, tmp_path / "b")
    xml = copy_ / "variants" / "openvino-fp32" / "network.xml.gz"
    xml.write_bytes(xml.read_bytes() + b" ")
    bundle = load_bundle(copy_)
    assert bundle.runtime_name == "pytorch"
    assert "network.xml.gz is missing or changed" in caplog.text
    with pytest.raises(TumorscopeError, match="openvino-fp32 file network.xml.gz is missing or changed"):
        choose(bundle, "openvino")
    with pytest.raises(TumorscopeError, match="onnx-fp32 not exported"):
        choose(bundle, "onnx-fp32")


def test_a_variant_that_changes_the_masks_is_rejected_recorded_and_never_run(tiny_seg_variant, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    root, folder, _ = tiny_seg_variant
    bundle = load_bundle(shutil.copytree(folder, tmp_path / "b"))
    broken = copy.deepcopy(bundle.model)
    last = [m for m in broken.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        last.bias += 20.0  # every pixel tumor
    checks = choose_data(bundle, root, 13)
    exporter = Exporter(replace(bundle, _model=broken), checks)
    exporter._reference = run(bundle, checks, bundle.model)  # the real network's results: the broken export must fail
    record = exporter.make("onnx")
    assert not record["passed"] and record["verification"]["max_dice_change"] > 0.005
    assert not (bundle.path / "variants" / "onnx-fp32").exists()
    saved = json.loads((bundle.path / "variants.json").read_text())["variants"]
    assert saved["onnx-fp32"]["passed"] is False and saved["openvino-fp32"]["passed"] is True
    assert "| onnx-fp32 |" in (bundle.path / "card.md").read_text() and "no (not used)" in (bundle.path / "card.md").read_text()
    with pytest.raises(TumorscopeError, match="onnx-fp32 failed its verification"):
        choose(load_bundle(bundle.path), "onnx")
    from tumorscope.cli import main

    assert main(["models", "verify", str(bundle.path)]) == 0
    assert ("exported variants: onnx-fp32 (failed its verification), openvino-fp32 (verified, usable)"
            in capsys.readouterr().out)


def test_export_cli_refuses_an_unknown_runtime_choice_and_missing_data(tiny_seg_variant, tmp_path, capsys):
    from tumorscope.cli import main

    _, folder, _ = tiny_seg_variant
    assert main(["export", "--model", str(folder), "--format", "onnx", "--data", str(tmp_path / "none")]) == 2
    assert "verification data not found" in capsys.readouterr().err
    with pytest.raises(TumorscopeError, match="unknown runtime"):
        choose(load_bundle(folder), "tensorrt")


@pytest.mark.parametrize("runtime", ["openvino", "onnx"])
def test_int8_is_calibrated_on_the_training_images_and_verified_like_float32(tiny_seg_variant, tmp_path, runtime):
    pytest.importorskip("nncf" if runtime == "openvino" else "onnxruntime")
    root, folder, _ = tiny_seg_variant
    bundle = load_bundle(shutil.copytree(folder, tmp_path / "b"))
    record = Exporter(bundle, choose_data(bundle, root, 13), calibration_size=8).make(runtime, int8=True)
    assert record["precision"] == "int8" and record["calibration"].startswith("8 network inputs from training images")
    ver = record["verification"]
    assert record["passed"] == (ver["max_dice_change"] <= 0.005 and ver["mean_dice_change"] <= 0.002)
    assert (bundle.path / "variants" / f"{runtime}-int8").is_dir() == record["passed"]
    assert read_variants(bundle.path)[f"{runtime}-int8"]["passed"] == record["passed"]


def test_int8_weights_only_variant_needs_no_calibration_and_is_a_quarter_of_float32(tiny_seg_variant, tmp_path):
    pytest.importorskip("nncf")
    root, folder, _ = tiny_seg_variant
    bundle = load_bundle(shutil.copytree(folder, tmp_path / "b"))
    exporter = Exporter(bundle, choose_data(bundle, root, 13))
    record = exporter.make("openvino", weights_only=True)
    assert record["precision"] == "int8w" and "calibration" not in record
    assert record["passed"], record["verification"]["summary"]  # int8 weights, float activations: ~float32
    def weights(name):
        return sum(f.stat().st_size for f in (bundle.path / "variants" / name).glob("*.bin"))

    assert weights("openvino-int8w") < 0.4 * weights("openvino-fp32")
    assert load_bundle(bundle.path).runtime_name in ("openvino-int8w", "openvino-fp32")
    with pytest.raises(TumorscopeError, match="OpenVINO only"):
        exporter.make("onnx", weights_only=True)
