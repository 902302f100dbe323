"""Attribution methods: layer choice, shapes, bounded memory, speed, errors."""

import time

import numpy as np
import pytest
import torch

from tests.explain.helpers import blob_batch, oracle_classifier, oracle_segmenter
from tumorscope.errors import TumorscopeError
from tumorscope.explain.layers import embeddings, target_layer
from tumorscope.explain.methods import METHODS, Explainer, normalized, to_grid
from tumorscope.models import build_model


def test_target_layer_is_the_unet_bottleneck_and_the_resnets_last_block():
    unet = build_model("unet2d", 1, 1, width=4).eval()
    x = torch.rand(1, 1, 32, 32)
    name = target_layer(unet, x, "segmentation")
    # MONAI UNet's bottom ResidualUnit, after its last activation
    assert name == "model.1.submodule.1.submodule.1.submodule.1.submodule.conv.unit1.adn.A"
    assert target_layer(build_model("resnet18", 3, 2, width=8).eval(), torch.rand(1, 3, 64, 64), "classification") == "layer4"
    assert target_layer(oracle_classifier(), x, "classification") == "1"  # the ReLU after the only conv


def test_maps_have_the_input_grid_and_targets_describe_the_score():
    x, _ = blob_batch(3, 32)
    ex = Explainer(oracle_segmenter(), "segmentation")
    targets = ex.targets(x)
    assert all(d["target"] == "predicted tumor region" and d["region_pixels"] > 0 for d in targets.described)
    for method in METHODS:
        maps = ex.attribute(x, method, targets)
        assert maps.shape == (3, 32, 32) and maps.dtype == np.float32 and np.isfinite(maps).all(), method
    empty = ex.targets(torch.zeros(1, 1, 32, 32))
    assert empty.described[0]["target"].startswith("whole image") and float(empty.select.sum()) == pytest.approx(1.0)
    cls = Explainer(oracle_classifier(), "classification", ["normal", "tumor"]).targets(x)
    assert cls.described[0]["target"] == "class tumor" and cls.described[0]["probability"] > 0.9
    big = to_grid(maps, (64, 48))
    assert big.shape == (3, 64, 48)
    heat = np.array([[-2.0, 0.0], [1.0, 4.0]])
    assert normalized(heat).tolist() == [[0.0, 0.0], [0.25, 1.0]] and normalized(-np.abs(heat)).max() == 0.0


def test_integrated_gradients_runs_in_bounded_batches():
    net = oracle_segmenter()
    seen = []
    net.register_forward_hook(lambda _m, inp, _o: seen.append(inp[0].shape[0]))
    x, _ = blob_batch(2, 32)
    Explainer(net, "segmentation", ig_steps=32, batch_size=8).attribute(x, "ig")
    assert seen and max(seen) <= 8  # 2 images x 32 steps never go through the net at once


def test_gradcam_on_a_256_slice_is_fast():
    """CPU time on one thread (wall time on a shared, loaded machine says little): well under a second."""
    net = build_model("unet2d", 1, 1, width=16).eval()
    ex = Explainer(net, "segmentation")
    x = torch.rand(1, 1, 256, 256)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ex.attribute(x, "gradcam")  # warm-up (layer choice, hooks)
        t0 = time.process_time()
        ex.attribute(x, "gradcam")
        cpu = time.process_time() - t0
    finally:
        torch.set_num_threads(threads)
    assert cpu < 1.0  # ~0.2 s for a 256x256 network input (bundles use 128: ~0.05 s)


def test_embeddings_are_penultimate_features():
    x, _ = blob_batch(3, 32)
    feats, out = embeddings(oracle_classifier(), x, "classification", "1")
    assert feats.shape == (3, 2) and out.shape == (3, 2)
    unet = build_model("unet2d", 1, 1, width=4).eval()
    feats, out = embeddings(unet, x, "segmentation", target_layer(unet, x, "segmentation"))
    assert feats.shape == (3, 64) and out.shape == (3, 1, 32, 32)


def test_bad_method_and_layer_are_user_errors():
    ex = Explainer(oracle_segmenter(), "segmentation", layer="nope")
    x, _ = blob_batch(1, 32)
    with pytest.raises(TumorscopeError, match="unknown explanation method"):
        ex.attribute(x, "lime")
    with pytest.raises(TumorscopeError, match="no layer 'nope'"):
        ex.attribute(x, "gradcam")


def test_explaining_leaves_a_batchnorm_network_in_eval_mode():
    net = build_model("resnet18", 1, 2, width=8).eval()
    x = torch.rand(1, 1, 64, 64)
    before = net(x).detach()
    ex = Explainer(net, "classification")
    for method in ("gradcam", "gradcampp", "occlusion"):
        ex.attribute(x, method)
    assert not any(m.training for m in net.modules())
    assert torch.allclose(net(x), before)  # no BatchNorm statistics were updated
