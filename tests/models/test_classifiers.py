"""Classification networks: build, forward, stages and --freeze."""

import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model, describe_models
from tumorscope.models.classifiers import STAGES, freeze_stages

NAMES = ("cnn", "resnet18", "resnet34", "resnet50", "densenet121", "vit", "cnn_gru")


def test_all_classifiers_are_registered():
    names = {s.name for s in describe_models("classification")}
    assert set(NAMES) <= names


@pytest.mark.parametrize("name", NAMES)
def test_forward_gives_one_logit_per_class(name):
    torch.manual_seed(0)
    in_channels = 3 if name in ("resnet18", "vit") else 1
    model = build_model(name, in_channels, 3, width=8, size=32).eval()
    with torch.no_grad():
        y = model(torch.randn(2, in_channels, 32, 32))
    assert y.shape == (2, 3) and torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_every_stage_names_parameters(name):
    keys = [k for k, _ in build_model(name, 1, 2, width=8, size=32).named_parameters()]
    for stage in STAGES[name]:
        assert any(k.startswith(stage) for k in keys), (name, stage)


def test_resnet_uses_stride2_stem_and_width():
    model = build_model("resnet18", 1, 4, width=16)
    assert model.conv1.stride == (2, 2) and model.conv1.out_channels == 16
    assert model.fc.in_features == 128


def test_freeze_first_stages_only():
    model = build_model("resnet18", 1, 2, width=8)
    norms = freeze_stages(model, "resnet18", 2)  # stem + layer1
    frozen = {k for k, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(k.startswith(("conv1.", "bn1.", "layer1.")) for k in frozen)
    assert all(p.requires_grad for k, p in model.named_parameters() if k.startswith(("layer2.", "fc.")))
    assert model.bn1 in norms and len(norms) == 1 + 4  # stem BN + 2 blocks x 2 BNs in layer1


def test_freeze_rejects_too_many_stages():
    model = build_model("cnn", 1, 2, width=4)
    with pytest.raises(TumorscopeError, match="has 4 stages"):
        freeze_stages(model, "cnn", 5)
