"""Choosing the engine: names, order, and a bundle without exported variants."""

import pytest

from tumorscope.bundle import load_bundle
from tumorscope.bundle.runtime import candidates, choose, fastest_first
from tumorscope.errors import TumorscopeError


def test_openvino_before_onnx_and_within_a_runtime_the_faster_measured_variant_first():
    table = {"onnx-int8": {"verification": {"speedup_here": 1.5}}, "onnx-fp32": {"verification": {"speedup_here": 2.0}},
             "openvino-fp32": {"verification": {"speedup_here": 3.0}}}
    assert fastest_first(candidates("auto"), table) == ["openvino-fp32", "openvino-int8", "openvino-int8w",
                                                        "onnx-fp32", "onnx-int8"]
    assert fastest_first(candidates("auto"), {}) == ["openvino-int8", "openvino-int8w", "openvino-fp32", "onnx-int8",
                                                     "onnx-fp32"]
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


@pytest.mark.parametrize("out_channels, sizes", [(1, None), (3, [None, (24, 24)])])
def test_graph_ensemble_joins_members_as_the_pytorch_ensemble_does(out_channels, sizes):
    """The numpy ensemble of exported members (no torch at predict time) against ProbabilityEnsemble on the
    same members: voters on a repeated single sequence, channels, member sizes, mean, temperature."""
    import numpy as np
    import torch

    from tumorscope.bundle.runtime import GraphEnsemble
    from tumorscope.models.ensemble import ProbabilityEnsemble

    torch.manual_seed(0)
    pool = (lambda: torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())) if out_channels > 1 else None
    members = [torch.nn.Sequential(torch.nn.Conv2d(c, out_channels, 3, padding=1), *(pool() if pool else []))
               for c in (1, 3)]
    channels = [[1], [0, 1, 2]]
    ref = ProbabilityEnsemble(members, channels, out_channels, temperature=1.3, sizes=sizes).eval()

    def as_graph(net):
        return lambda a: net(torch.from_numpy(a)).detach().numpy()

    ours = GraphEnsemble([as_graph(m) for m in members], channels, out_channels, 1.3, sizes=sizes)
    x = torch.rand(2, 3, 32, 32)
    for batch in (x, x[:, :1].repeat(1, 3, 1, 1)):  # three sequences; one sequence repeated (one voter)
        with torch.no_grad():
            expected = ref(batch).numpy()
        assert np.abs(ours(batch.numpy()) - expected).max() < 1e-4
