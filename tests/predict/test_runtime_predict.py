"""predict runs the fastest verified exported variant (bundle/runtime.py) and gives PyTorch's masks."""

import json

import numpy as np
import pytest

from tumorscope.bundle import load_bundle
from tumorscope.predict.inputs import read_input
from tumorscope.predict.segmentation import predict_probabilities, segment


def _patient(root):
    return sorted((root / "kaggle_3m").iterdir())[1]


def test_predict_picks_the_verified_variant_and_matches_pytorch_float32(tiny_seg_variant):
    root, folder, _ = tiny_seg_variant
    bundle = load_bundle(folder)
    inp = read_input(_patient(root))
    prob, mask = segment(bundle, inp)
    assert bundle.runtime_name == "openvino-fp32"
    ref = predict_probabilities(bundle.model, bundle.preprocessor, inp.slices, tta=bundle.postprocess.tta, bf16=False)
    assert np.abs(prob - ref).max() < 1e-4
    assert np.array_equal(mask, bundle.postprocess(ref))


def test_predict_cli_runtime_option(tiny_seg_variant, tmp_path, capsys):
    from tumorscope.cli import main

    root, folder, _ = tiny_seg_variant
    args = ["predict", "--model", str(folder), "-i", str(_patient(root))]
    assert main([*args, "-o", str(tmp_path / "pt"), "--runtime", "pytorch"]) == 0
    assert main([*args, "-o", str(tmp_path / "ov"), "--runtime", "openvino"]) == 0
    pt, ov = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("pt", "ov"))
    assert pt["tumor_found"] == ov["tumor_found"]
    assert abs(pt["volume_pixels"] - ov["volume_pixels"]) <= 0.02 * max(pt["volume_pixels"], 50)  # PyTorch may run bf16
    assert main([*args, "-o", str(tmp_path / "onnx"), "--runtime", "onnx"]) == 2  # not exported: one line, exit 2
    assert "runtime onnx cannot run this model: onnx-int8 not exported" in capsys.readouterr().err
    assert not (tmp_path / "onnx").exists()


def test_the_environment_variable_forces_pytorch(tiny_seg_variant, monkeypatch):
    _, folder, _ = tiny_seg_variant
    monkeypatch.setenv("TUMORSCOPE_RUNTIME", "pytorch")
    assert load_bundle(folder).runtime_name == "pytorch"
    monkeypatch.setenv("TUMORSCOPE_RUNTIME", "openvino-fp32")
    assert load_bundle(folder).runtime_name == "openvino-fp32"


@pytest.mark.shared_data
def test_the_zoo_classifier_without_variants_runs_pytorch(brain4_dir):
    from tumorscope.predict.classify import predict_files

    bundle = load_bundle("brain-mri-tumor-type")
    res = predict_files(bundle, sorted((brain4_dir / "Testing" / "glioma").iterdir())[:2])
    assert bundle.runtime_name == "pytorch" and res.probs.shape == (2, 4)


_PREDICT_PROBE = """
import json, sys
from tumorscope.cli import main
code = main(["predict", "--model", sys.argv[1], "-i", sys.argv[2], "-o", sys.argv[3]])
print(json.dumps({"code": code, "loaded": [m for m in ("torch", "monai") if m in sys.modules]}))
"""


def test_predict_with_a_variant_imports_neither_torch_nor_monai(tiny_seg_variant, tmp_path):
    """Reading, preprocessing, the variant, post-processing and every output, in a fresh interpreter."""
    import subprocess
    import sys
    from pathlib import Path

    root, folder, _ = tiny_seg_variant
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _PREDICT_PROBE, str(folder), str(_patient(root)), str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=repo, env={"PYTHONPATH": str(repo), "PATH": ""},
                          timeout=300, check=True)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found == {"code": 0, "loaded": []}, proc.stderr[-2000:]
    assert (tmp_path / "o" / "summary.json").is_file() and any((tmp_path / "o" / "masks").glob("*.png"))
