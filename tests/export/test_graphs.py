"""Exported graphs (ONNX, OpenVINO IR) reproduce the PyTorch network, an ensemble joined as in PyTorch."""

import numpy as np
import pytest
import torch

from tumorscope.bundle import save_bundle
from tumorscope.bundle.runtime import variant_network
from tumorscope.export.graphs import write_graphs
from tumorscope.models import build_model

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

SEG_MEMBERS = [{"name": "unet2d", "in_channels": 1, "options": {"width": 4}, "channels": [1]},
               {"name": "unet2d", "in_channels": 3, "options": {"width": 4}, "channels": [0, 1, 2]}]
CLS_MEMBERS = [{"name": "resnet18", "in_channels": 1, "options": {"width": 8}, "channels": [0], "size": [24, 24]},
               {"name": "resnet18", "in_channels": 1, "options": {"width": 8}, "channels": [0]}]


def _bundle(tmp_path, task, members, out_channels, size=32):
    torch.manual_seed(0)
    spec = {"name": "ensemble", "in_channels": len({c for m in members for c in m["channels"]}),
            "out_channels": out_channels, "options": {"members": members}}
    net = build_model(spec["name"], spec["in_channels"], out_channels, **spec["options"]).eval()
    config = {"task": task, "model": spec, "classes": ["a", "b", "c"] if task == "classification" else [],
              "preprocessing": {"channels": "mri3" if spec["in_channels"] == 3 else "gray", "size": [size, size]}}
    return save_bundle(tmp_path / task, net, config)


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_a_segmentation_ensemble_round_trips_for_both_voting_modes(tmp_path, runtime):
    bundle = _bundle(tmp_path, "segmentation", SEG_MEMBERS, 1)
    graphs = write_graphs(bundle.model, 3, (32, 32), runtime, tmp_path / runtime)
    assert graphs == [f"member{i}.{'onnx' if runtime == 'onnx' else 'xml.gz'}" for i in range(2)]
    net = variant_network(bundle, tmp_path / runtime, {"graphs": graphs})
    x = torch.randn(3, 3, 32, 32)
    one_sequence = x[:, :1].repeat(1, 3, 1, 1)  # all channels equal: only the FLAIR-only member votes
    with torch.no_grad():
        for inp in (x, one_sequence):
            ref = bundle.model(inp)
            assert torch.allclose(net(inp), ref, atol=1e-4), float((net(inp) - ref).abs().max())
        assert not torch.allclose(bundle.model(one_sequence), bundle.model.members[1](one_sequence), atol=1e-3)


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_a_classifier_ensemble_with_a_member_at_its_own_size_round_trips(tmp_path, runtime):
    bundle = _bundle(tmp_path, "classification", CLS_MEMBERS, 3)
    graphs = write_graphs(bundle.model, 1, (32, 32), runtime, tmp_path / runtime)
    net = variant_network(bundle, tmp_path / runtime, {"graphs": graphs})
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net(x), bundle.model(x), atol=1e-4)
        out = net(x.numpy())  # numpy in, numpy out: predict's path without torch
        assert isinstance(out, np.ndarray) and np.abs(out - bundle.model(x).numpy()).max() < 1e-4
    assert sorted(p.name for p in (tmp_path / runtime).iterdir()) == sorted(
        graphs + ([g.replace(".xml.gz", ".bin") for g in graphs] if runtime == "openvino" else []))
