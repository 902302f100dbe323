"""bf16 autocast only where the CPU computes bf16 natively; channels-last batches change no values."""

import pytest
import torch

from tumorscope.bundle.publish.sections import compute_phrase as _compute_phrase
from tumorscope.models import build_model, precision
from tumorscope.predict.classify import predict_tensors


@pytest.fixture
def forced(monkeypatch):
    def force(value: str) -> None:
        monkeypatch.setenv(precision.ENV, value)
        precision.native_bf16.cache_clear()

    yield force
    precision.native_bf16.cache_clear()


def _conv_dtype(bf16: bool) -> torch.dtype:
    conv = torch.nn.Conv2d(1, 2, 3)
    with precision.autocast(bf16):
        return conv(torch.randn(1, 1, 8, 8)).dtype


def test_bf16_runs_only_where_requested_and_native(forced):
    forced("1")
    assert precision.native_bf16() and precision.use_bf16(True) and not precision.use_bf16(False)
    assert _conv_dtype(True) == torch.bfloat16 and _conv_dtype(False) == torch.float32
    assert precision.compute_dtype(True) == "bfloat16"
    forced("0")
    assert not precision.native_bf16() and not precision.use_bf16(True)
    assert _conv_dtype(True) == torch.float32 and precision.compute_dtype(True) == "float32"


def test_detection_follows_the_cpu_flags(forced, monkeypatch):
    forced("")
    monkeypatch.setattr(precision, "_cpu_flag", lambda name: name == "_is_amx_tile_supported")
    precision.native_bf16.cache_clear()
    assert precision.native_bf16()
    monkeypatch.setattr(precision, "_cpu_flag", lambda name: False)
    precision.native_bf16.cache_clear()
    assert not precision.native_bf16()
    assert precision.cpu_description()["native_bf16"] is False
    assert not precision._cpu_flag("_no_such_probe")


def test_channels_last_keeps_values_and_only_touches_4d():
    x = torch.randn(3, 2, 5, 7)
    y = precision.channels_last(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, y)
    v = torch.randn(2, 3, 4)
    assert precision.channels_last(v) is v


def test_predictions_in_channels_last_match_a_plain_float32_forward(forced):
    forced("0")
    torch.manual_seed(0)
    model = build_model("resnet18", 1, 3, width=4, size=32).eval()
    x = torch.randn(5, 1, 32, 32)
    with torch.no_grad():
        plain = torch.softmax(model(x), dim=1).double().numpy()
    got = predict_tensors(model, x, batch_size=2)
    assert next(p for p in model.parameters() if p.dim() == 4).is_contiguous(memory_format=torch.channels_last)
    assert got == pytest.approx(plain, abs=1e-5)


def test_card_says_what_the_time_was_measured_on():
    assert _compute_phrase({}) == "bf16 autocast"  # runs from before this was recorded
    cpu = {"processor": "AMD EPYC", "native_bf16": False}
    phrase = _compute_phrase({"compute_dtype": "float32", "cpu": cpu})
    assert phrase.startswith("float32; AMD EPYC, without native bfloat16") and "bench/precision.py" in phrase
    assert _compute_phrase({"compute_dtype": "bfloat16", "cpu": cpu | {"native_bf16": True}}).startswith(
        "bf16 autocast; AMD EPYC, with native")
