import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model, describe_models


@pytest.mark.parametrize("name", ["unet2d", "unet25d", "fcn"])
def test_2d_segmentation_models_keep_spatial_size(name):
    net = build_model(name, 1, 1, width=4)
    assert net(torch.zeros(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_unet3d_is_volumetric():
    net = build_model("unet3d", 1, 1, width=4).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 1, 32, 32, 32)).shape == (1, 1, 32, 32, 32)


def test_unknown_model_is_a_user_error():
    with pytest.raises(TumorscopeError, match="unknown model"):
        build_model("resnet9000", 1, 1)


def test_registry_lists_segmentation_models():
    names = {s.name for s in describe_models("segmentation")}
    assert {"unet2d", "unet25d", "unet3d", "fcn"} <= names


def test_torch_free_name_list_matches_the_registry():
    from tumorscope.models.names import MODEL_NAMES

    assert MODEL_NAMES == tuple(sorted(s.name for s in describe_models()))
