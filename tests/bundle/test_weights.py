"""Stored weight precision: float32 / float16 / int8 (per output channel) round trips."""

import pytest
import torch

from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.bundle.bundle import as_stored, decode_weights, encode_weights, smallest_dtype_that_fits
from tumorscope.models import build_model

CONFIG = {"task": "classification", "classes": ["a", "b", "c"],
          "model": {"name": "resnet18", "in_channels": 1, "out_channels": 3, "options": {"width": 8}},
          "preprocessing": {"channels": "gray", "size": [32, 32]}}


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model("resnet18", 1, 3, width=8)
    for m in net.modules():  # non-trivial norm statistics, so they are stored too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def _nbytes(state: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() * v.element_size() for v in state.values())


def test_int8_stores_kernels_as_int8_with_one_scale_per_output_channel_and_decodes_close():
    net = _net()
    state = net.state_dict()
    enc = encode_weights(net, "int8")
    key = next(k for k, v in state.items() if v.ndim == 4)
    assert enc[key].dtype == torch.int8 and enc[key].shape == state[key].shape
    assert enc[key + ".__int8_scale__"].shape == (state[key].shape[0],)
    assert enc[key].abs().amax().item() == 127  # max-abs scaling uses the full range
    bias = next(k for k, v in state.items() if v.ndim == 1 and v.is_floating_point())
    assert enc[bias].dtype == torch.float16
    dec = decode_weights(enc)
    assert set(dec) == set(state) and all(dec[k].dtype == state[k].dtype for k in state)
    for k, v in state.items():
        if v.is_floating_point() and v.ndim >= 2:  # error at most half a step of that channel's scale
            step = enc[k + ".__int8_scale__"].view(-1, *[1] * (v.ndim - 1))
            assert ((dec[k] - v).abs() <= step / 2 + 1e-7).all()
    assert _nbytes(enc) < 0.3 * _nbytes(state) and _nbytes(encode_weights(net, "float16")) < 0.51 * _nbytes(state)


def test_saved_int8_bundle_predicts_like_the_float_model(tmp_path):
    net = _net()
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        ref = torch.softmax(net(x), 1)
    b = save_bundle(tmp_path / "b", net, CONFIG, weights_dtype="int8")
    assert b.config["weights_dtype"] == "int8"
    loaded = load_bundle(tmp_path / "b")
    with torch.no_grad():
        got = torch.softmax(loaded.model(x), 1)
    assert (got - ref).abs().max() < 0.02
    # rounding the in-memory model the same way gives exactly what the bundle computes
    with torch.no_grad():
        assert torch.allclose(torch.softmax(as_stored(_net(), "int8")(x), 1), got, atol=1e-6)
    # saving a float32 copy of an int8-sourced config does not keep the stale dtype
    assert "weights_dtype" not in save_bundle(tmp_path / "c", net, {**CONFIG, "weights_dtype": "int8"}).config


def test_smallest_dtype_that_fits_and_bad_dtype():
    net = _net()
    f32 = _nbytes(net.state_dict())
    assert smallest_dtype_that_fits(net, f32) == "float32"
    assert smallest_dtype_that_fits(net, f32 // 2 + 1024) == "float16"
    assert smallest_dtype_that_fits(net, f32 // 3) == "int8"
    with pytest.raises(ValueError, match="int8"):
        smallest_dtype_that_fits(net, 1000)
    with pytest.raises(ValueError, match="weights dtype"):
        encode_weights(net, "int4")
