"""Running a segmentation model: slices of a volume -> probability map at the input's own resolution, and
(:func:`segment`) a bundle's probabilities and post-processed mask for one input. Writing the results is
:mod:`tumorscope.predict.outputs`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from tumorscope.bundle.postprocess import PostProcess
from tumorscope.errors import TumorscopeError
from tumorscope.models.precision import autocast
from tumorscope.predict.volumetric import SlidingWindow, is_volumetric, predict_volume, predict_volume_outputs
from tumorscope.preprocess.pipeline import Preprocessor

if TYPE_CHECKING:
    from tumorscope.bundle.bundle import Bundle
    from tumorscope.predict.inputs import PredictInput


def segment(bundle: Bundle, inp: PredictInput, post: PostProcess | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, mask), each (N, Y, X), for all slices of an input."""
    post = post or bundle.postprocess
    if inp.slices.ndim != 4:
        raise TumorscopeError(f"expected 2-D slices or a volume, got shape {inp.slices.shape}", inp.path)
    net = bundle.network  # PyTorch or a verified exported variant (bundle/runtime.py)
    if is_volumetric(net):  # a 3-D bundle: the slices are one volume, run by sliding window
        window = SlidingWindow.for_bundle(bundle.config, inp.slices.shape[:3])
        prob = predict_volume(net, bundle.preprocessor, inp.slices, window, tta=post.tta, path=inp.path)
    else:
        prob = predict_probabilities(net, bundle.preprocessor, inp.slices, tta=post.tta, path=inp.path,
                                     bf16=_bf16(bundle))
    return prob, post(prob)


def output_probabilities(bundle: Bundle, slices: np.ndarray, tta: bool, path: object = None) -> np.ndarray:
    """(K, Z, Y, X) probabilities of every sigmoid output of a 3-D bundle on one (Z, Y, X, C) volume; a 2-D
    bundle runs slice by slice and gives its tumor output (K = 1)."""
    net = bundle.network
    if is_volumetric(net):
        window = SlidingWindow.for_bundle(bundle.config, slices.shape[:3])
        return predict_volume_outputs(net, bundle.preprocessor, slices, window, tta=tta, path=path)
    return predict_probabilities(net, bundle.preprocessor, slices, tta=tta, path=path, bf16=_bf16(bundle))[None]


def segment_many(bundle: Bundle, inputs: list[PredictInput], post: PostProcess | None = None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`segment` for several inputs at once: the slices of 2-D inputs of one size run as one batch
    (a service answering many single-slice requests); each result equals ``segment`` on its own input."""
    post = post or bundle.postprocess
    if is_volumetric(bundle.network) or len({inp.slices.shape[1:] for inp in inputs}) != 1:
        return [segment(bundle, inp, post) for inp in inputs]
    for inp in inputs:
        if inp.slices.ndim != 4:
            raise TumorscopeError(f"expected 2-D slices or a volume, got shape {inp.slices.shape}", inp.path)
    pre = bundle.preprocessor  # normalised per input (percentiles are a volume's own), then run as one batch
    x = torch.cat([pre.tensor(inp.slices, inp.path) for inp in inputs])
    prob = _probabilities(bundle.network, x, inputs[0].slices.shape[1:3], post.tta, bf16=_bf16(bundle))
    bounds = np.cumsum([0] + [len(inp.slices) for inp in inputs])
    return [(p, post(p)) for p in (prob[a:b] for a, b in zip(bounds[:-1], bounds[1:]))]


def _bf16(bundle: Bundle) -> bool:
    """bf16 autocast (where native) for PyTorch only: an exported variant runs as it was verified."""
    return bundle.runtime_name == "pytorch"


@torch.no_grad()
def predict_probabilities(
    model: torch.nn.Module,
    pre: Preprocessor,
    stack: np.ndarray,
    tta: bool = False,
    batch_size: int = 32,
    bf16: bool = True,
    path: object = None,
) -> np.ndarray:
    """(N, Y, X, C) raw slices of one volume -> (N, Y, X) tumor probabilities (float32).

    Logits are resized back to (Y, X) before the sigmoid, so masks line up with the input pixels.
    """
    return _probabilities(model, pre.tensor(stack, path), stack.shape[1:3], tta, batch_size, bf16)


@torch.no_grad()
def _probabilities(model: torch.nn.Module, x: torch.Tensor, out_size: tuple[int, ...], tta: bool,
                   batch_size: int = 32, bf16: bool = True) -> np.ndarray:
    model.eval()
    probs = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        logits = _forward(model, xb, bf16)
        if tta:
            logits = (logits + _forward(model, xb.flip(-1), bf16).flip(-1)) / 2
        logits = F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)
        probs.append(torch.sigmoid(logits[:, 0]).numpy())
    return np.concatenate(probs).astype(np.float32)


def _forward(model: torch.nn.Module, x: torch.Tensor, bf16: bool) -> torch.Tensor:
    with autocast(bf16):
        return model(x).float()
