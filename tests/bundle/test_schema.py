"""The bundle-config schema: every zoo config passes; a missing, ill-typed or out-of-range key fails on
load with a TumorscopeError naming the config file and the key."""

import json
import shutil

import pytest
import torch

from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.schema import FORMAT_VERSION, validate_config
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model

CONFIG = {"task": "classification", "classes": ["a", "b"],
          "model": {"name": "cnn", "in_channels": 1, "out_channels": 2, "options": {"width": 4}},
          "preprocessing": {"channels": "gray", "size": [16, 16]}}


@pytest.mark.parametrize("folder", sorted(p.name for p in ZOO.iterdir() if (p / "config.json").exists()))
def test_every_zoo_config_validates(folder):
    path = ZOO / folder / "config.json"
    validate_config(json.loads(path.read_text()), path)
    assert load_bundle(folder, verify=False).name == folder


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("schema") / "b"
    save_bundle(out, build_model("cnn", 1, 2, width=4), CONFIG)
    return out


def _broken(bundle_dir, tmp_path, edit):
    copy = tmp_path / "broken"
    shutil.copytree(bundle_dir, copy)
    cfg = json.loads((copy / "config.json").read_text())
    edit(cfg)
    (copy / "config.json").write_text(json.dumps(cfg))
    return copy


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c.pop("task"), "needs key 'task'"),
    (lambda c: c["model"].pop("out_channels"), "needs key 'model.out_channels'"),
    (lambda c: c.update(task="detection"), "key 'task' is 'detection': choose from"),
    (lambda c: c["model"].update(in_channels="1"), "key 'model.in_channels' must be an integer"),
    (lambda c: c["model"].update(name="vgg99"), "key 'model.name' is 'vgg99'"),
    (lambda c: c.update(classes="a,b"), "key 'classes' must be a list"),
    (lambda c: c.update(classes=["a", 2]), "key 'classes' must hold only a string items"),
    (lambda c: c["preprocessing"].update(size=[16]), "key 'preprocessing.size' must hold 2 items"),
    (lambda c: c["preprocessing"].update(normalization="minmax"), "key 'preprocessing.normalization'"),
    (lambda c: c["preprocessing"].update(sizee=[16, 16]), "unknown key preprocessing.'sizee'"),
    (lambda c: c.update(postprocessing={"threshold": 1.5}), "key 'postprocessing.threshold' must be >= 0.0"),
    (lambda c: c.update(postprocessing={"min_size": True}), "key 'postprocessing.min_size' must be an integer"),
    (lambda c: c.update(postprocessing={"fill_hole": True}), "unknown key postprocessing.'fill_hole'"),
    (lambda c: c.update(inference={"tta": "yes"}), "key 'inference.tta' must be true/false"),
    (lambda c: c.update(weights_dtype="bfloat16"), "key 'weights_dtype' is 'bfloat16'"),
    (lambda c: c.update(format_version=FORMAT_VERSION + 1), "newer than this tumorscope reads"),
    (lambda c: c.update(weights_sha256="abc"), "key 'weights_sha256' must be 64 lowercase hex"),
    (lambda c: c["model"]["options"].update(members=[{"in_channels": 1}]),
     "needs key 'model.options.members[0].name'"),
])
def test_bad_config_fails_naming_file_and_key(bundle_dir, tmp_path, edit, message):
    copy = _broken(bundle_dir, tmp_path, edit)
    with pytest.raises(TumorscopeError, match="config.json") as err:
        load_bundle(copy, verify=False)
    assert message in str(err.value)
    assert err.value.path == copy / "config.json"


def test_unknown_top_level_keys_are_kept(bundle_dir, tmp_path):
    copy = _broken(bundle_dir, tmp_path, lambda c: c.update(made_by="tumorscope ensemble a b"))
    assert load_bundle(copy).config["made_by"] == "tumorscope ensemble a b"


def test_save_refuses_an_invalid_config_and_writes_nothing(tmp_path):
    with pytest.raises(TumorscopeError, match="needs key 'preprocessing'"):
        save_bundle(tmp_path / "x", build_model("cnn", 1, 2, width=4), {k: v for k, v in CONFIG.items()
                                                                          if k != "preprocessing"})
    assert not (tmp_path / "x").exists()
