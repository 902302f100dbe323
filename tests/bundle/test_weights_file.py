"""Weights files: new bundles write safetensors; bundles made with ``weights.pt`` still load, verify and
predict the same; converting one keeps its stored tensors (and dtypes) exactly."""

import json
import shutil

import pytest
import torch

from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.bundle.bundle import convert_to_safetensors, sha256
from tumorscope.bundle.weights import LEGACY_WEIGHTS_FILE, WEIGHTS_FILE, encode_weights, read_weights
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model

CONFIG = {"task": "classification", "classes": ["a", "b", "c"],
          "model": {"name": "resnet18", "in_channels": 1, "out_channels": 3, "options": {"width": 8}},
          "preprocessing": {"channels": "gray", "size": [32, 32]}}


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("resnet18", 1, 3, width=8).eval()


def _legacy_bundle(path, net, dtype):
    """A bundle as tumorscope wrote it before safetensors: torch.save'd stored weights in weights.pt."""
    path.mkdir()
    torch.save(encode_weights(net, dtype), path / LEGACY_WEIGHTS_FILE)
    cfg = {**CONFIG, "format_version": 1, "weights_sha256": sha256(path / LEGACY_WEIGHTS_FILE)}
    if dtype != "float32":
        cfg["weights_dtype"] = dtype
    (path / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return path


def test_new_bundles_store_safetensors_with_the_stored_dtypes(tmp_path):
    b = save_bundle(tmp_path / "b", _net(), CONFIG, weights_dtype="int8")
    assert b.weights_path == tmp_path / "b" / WEIGHTS_FILE and not (tmp_path / "b" / LEGACY_WEIGHTS_FILE).exists()
    assert b.config["weights_sha256"] == sha256(b.weights_path)
    stored = read_weights(b.weights_path)
    assert any(v.dtype == torch.int8 for v in stored.values())
    assert {k: v.dtype for k, v in stored.items()} == {k: v.dtype for k, v in encode_weights(_net(), "int8").items()}


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_legacy_pt_bundle_loads_and_predicts_as_its_safetensors_conversion(tmp_path, dtype):
    net = _net()
    legacy = _legacy_bundle(tmp_path / "old", net, dtype)
    old = load_bundle(legacy)  # checksum verified on the .pt file
    assert old.weights_path.name == LEGACY_WEIGHTS_FILE
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        before = old.model(x)
    before_tensors = read_weights(legacy / LEGACY_WEIGHTS_FILE)
    new_file = convert_to_safetensors(legacy)
    assert new_file.name == WEIGHTS_FILE and not (legacy / LEGACY_WEIGHTS_FILE).exists()
    after_tensors = read_weights(new_file)
    assert before_tensors.keys() == after_tensors.keys()
    for k, v in before_tensors.items():
        assert after_tensors[k].dtype == v.dtype and torch.equal(after_tensors[k], v)
    new = load_bundle(legacy)  # the updated checksum verifies
    with torch.no_grad():
        assert torch.equal(new.model(x), before)
    assert convert_to_safetensors(legacy) == new_file  # already converted: nothing to do


def test_corrupt_safetensors_fails_with_the_file_named(tmp_path):
    b = save_bundle(tmp_path / "b", _net(), CONFIG)
    b.weights_path.write_bytes(b"not safetensors")
    with pytest.raises(TumorscopeError, match="checksum"):
        load_bundle(b.path)
    with pytest.raises(TumorscopeError, match="cannot read the weights") as err:
        _ = load_bundle(b.path, verify=False).model
    assert err.value.path == b.weights_path


def test_folder_without_weights_is_not_a_bundle(tmp_path):
    b = save_bundle(tmp_path / "b", _net(), CONFIG)
    shutil.rmtree(tmp_path / "b2", ignore_errors=True)
    shutil.copytree(b.path, tmp_path / "b2")
    (tmp_path / "b2" / WEIGHTS_FILE).unlink()
    with pytest.raises(TumorscopeError, match="no weights.safetensors or weights.pt"):
        load_bundle(tmp_path / "b2")
