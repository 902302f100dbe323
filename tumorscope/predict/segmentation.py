"""Running a segmentation model: slices of a volume -> probability map at the input's own resolution, and
(:func:`segment`) a bundle's probabilities and post-processed mask for one input. Writing the results is
:mod:`tumorscope.predict.outputs`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tumorscope.bundle.postprocess import PostProcess
from tumorscope.bundle.runtime import VariantNetwork
from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.preprocess.resample import resize_bilinear

if TYPE_CHECKING:
    import torch

    from tumorscope.bundle.bundle import Bundle
    from tumorscope.predict.inputs import PredictInput


def segment(bundle: Bundle, inp: PredictInput, post: PostProcess | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, mask), each (N, Y, X), for all slices of an input."""
    post = post or bundle.postprocess
    if inp.slices.ndim != 4:
        raise TumorscopeError(f"expected 2-D slices or a volume, got shape {inp.slices.shape}", inp.path)
    net = bundle.network  # PyTorch or a verified exported variant (bundle/runtime.py)
    if _volumetric(net):  # a 3-D bundle: the slices are one volume, run by sliding window
        from tumorscope.predict.volumetric import SlidingWindow, predict_volume

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
    if _volumetric(net):
        from tumorscope.predict.volumetric import SlidingWindow, predict_volume_outputs

        window = SlidingWindow.for_bundle(bundle.config, slices.shape[:3])
        return predict_volume_outputs(net, bundle.preprocessor, slices, window, tta=tta, path=path)
    return predict_probabilities(net, bundle.preprocessor, slices, tta=tta, path=path, bf16=_bf16(bundle))[None]


def segment_many(bundle: Bundle, inputs: list[PredictInput], post: PostProcess | None = None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`segment` for several inputs at once: the slices of 2-D inputs of one size run as one batch
    (a service answering many single-slice requests); each result equals ``segment`` on its own input."""
    post = post or bundle.postprocess
    if _volumetric(bundle.network) or len({inp.slices.shape[1:] for inp in inputs}) != 1:
        return [segment(bundle, inp, post) for inp in inputs]
    for inp in inputs:
        if inp.slices.ndim != 4:
            raise TumorscopeError(f"expected 2-D slices or a volume, got shape {inp.slices.shape}", inp.path)
    pre, net = bundle.preprocessor, bundle.network  # normalised per input (a volume's own percentiles), one batch
    if isinstance(net, VariantNetwork):
        prob = _array_probabilities(net, np.concatenate([pre.network_input(inp.slices, inp.path) for inp in inputs]),
                                    inputs[0].slices.shape[1:3], post.tta)
    else:
        import torch

        x = torch.cat([pre.tensor(inp.slices, inp.path) for inp in inputs])
        prob = _probabilities(net, x, inputs[0].slices.shape[1:3], post.tta, bf16=_bf16(bundle))
    bounds = np.cumsum([0] + [len(inp.slices) for inp in inputs])
    return [(p, post(p)) for p in (prob[a:b] for a, b in zip(bounds[:-1], bounds[1:]))]


def _volumetric(net: Any) -> bool:
    """A 3-D PyTorch network (exported variants are 2-D)."""
    if isinstance(net, VariantNetwork):
        return False
    from tumorscope.predict.volumetric import is_volumetric

    return is_volumetric(net)


def _bf16(bundle: Bundle) -> bool:
    """bf16 autocast (where native) for PyTorch only: an exported variant runs as it was verified."""
    return bundle.runtime_name == "pytorch"


def predict_probabilities(
    model: torch.nn.Module | VariantNetwork,
    pre: Preprocessor,
    stack: np.ndarray,
    tta: bool = False,
    batch_size: int = 32,
    bf16: bool = True,
    path: object = None,
) -> np.ndarray:
    """(N, Y, X, C) raw slices of one volume -> (N, Y, X) tumor probabilities (float32).

    Logits are resized back to (Y, X) before the sigmoid, so masks line up with the input pixels. An exported
    variant runs the same steps in numpy (:meth:`Preprocessor.network_input`, no torch; as it was verified).
    """
    if isinstance(model, VariantNetwork):
        return _array_probabilities(model, pre.network_input(stack, path), stack.shape[1:3], tta, batch_size)
    return _probabilities(model, pre.tensor(stack, path), stack.shape[1:3], tta, batch_size, bf16)


def _array_probabilities(model: VariantNetwork, x: np.ndarray, out_size: tuple[int, ...], tta: bool,
                         batch_size: int = 32) -> np.ndarray:
    """:func:`_probabilities` for an exported variant, in numpy."""
    from scipy.special import expit

    probs = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        logits = model(xb)
        if tta:
            logits = (logits + model(np.ascontiguousarray(xb[..., ::-1]))[..., ::-1]) / np.float32(2)
        probs.append(expit(resize_bilinear(logits[:, 0], tuple(out_size))))  # type: ignore[arg-type]
    return np.concatenate(probs).astype(np.float32)


def _probabilities(model: torch.nn.Module, x: torch.Tensor, out_size: tuple[int, ...], tta: bool,
                   batch_size: int = 32, bf16: bool = True) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    from tumorscope.models.precision import autocast

    model.eval()
    probs = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i : i + batch_size]
            with autocast(bf16):
                logits = model(xb).float()
            if tta:
                with autocast(bf16):
                    flipped = model(xb.flip(-1)).float()
                logits = (logits + flipped.flip(-1)) / 2
            logits = F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)
            probs.append(torch.sigmoid(logits[:, 0]).numpy())
    return np.concatenate(probs).astype(np.float32)
