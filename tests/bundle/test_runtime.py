"""Choosing the engine: names, order, and a bundle without exported variants."""

import pytest

from tumorscope.bundle import load_bundle
from tumorscope.bundle.runtime import candidates, choose, fastest_first
from tumorscope.errors import TumorscopeError


def test_openvino_before_onnx_and_within_a_runtime_the_faster_measured_variant_first():
    table = {"onnx-int8": {"verification": {"speedup_here": 1.5}}, "onnx-fp32": {"verification": {"speedup_here": 2.0}},
             "openvino-fp32": {"verification": {"speedup_here": 3.0}}}
    assert fastest_first(candidates("auto"), table) == ["openvino-fp32", "openvino-int8", "onnx-fp32", "onnx-int8"]
    assert fastest_first(candidates("auto"), {}) == ["openvino-int8", "openvino-fp32", "onnx-int8", "onnx-fp32"]
    assert candidates("onnx") == ["onnx-int8", "onnx-fp32"] and candidates("openvino-fp32") == ["openvino-fp32"]
    assert candidates("pytorch") == []


def test_a_bundle_without_variants_runs_pytorch_unless_a_runtime_is_demanded():
    bundle = load_bundle("colon-histo-tumor")
    name, net = choose(bundle)
    assert name == "pytorch" and net is bundle.model
    with pytest.raises(TumorscopeError, match="runtime openvino cannot run this model: openvino-int8 not exported"):
        choose(bundle, "openvino")
    with pytest.raises(TumorscopeError, match="unknown runtime 'gpu'"):
        choose(bundle, "gpu")
