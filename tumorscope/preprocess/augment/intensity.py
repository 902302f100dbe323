"""Intensity transforms: they change the image only (a mask passes through untouched), 2-D and 3-D.

Each is one element-wise expression on the batch with a parameter per sample (no library transform does
per-sample parameters on a batch, and a per-image loop costs more than the network step on a CPU).
"""

from __future__ import annotations

import torch

from tumorscope.preprocess.augment.base import Pair, Params, Transform, coin, log_uniform, per_sample, uniform


def _range(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's minimum and (non-zero) max - min over channels and space, shaped to broadcast."""
    dims = tuple(range(1, image.dim()))
    lo = image.amin(dim=dims, keepdim=True)
    return lo, (image.amax(dim=dims, keepdim=True) - lo).clamp(min=1e-6)


def _std(image: torch.Tensor) -> torch.Tensor:
    return image.std(dim=tuple(range(1, image.dim())), keepdim=True).clamp(min=1e-6)


def _factors(gen: torch.Generator, n: int, p: float, lo: float, hi: float, log: bool, neutral: float) -> torch.Tensor:
    values = log_uniform(gen, lo, hi, n) if log else uniform(gen, lo, hi, n)
    return torch.where(coin(gen, n, p), values, torch.full((n,), neutral))


class Gamma(Transform):
    """With probability ``p``, ``x -> lo + range * ((x - lo) / range) ** gamma`` on each sample's own intensity
    range, gamma in [low, high] (``log``: spread on a log scale). Minimum and maximum stay where they were."""

    def __init__(self, p: float, low: float, high: float, log: bool = False) -> None:
        self.p, self.low, self.high, self.log = p, low, high, log

    def draw(self, gen: torch.Generator, image: torch.Tensor) -> Params:
        return {"gamma": _factors(gen, len(image), self.p, self.low, self.high, self.log, 1.0)}

    def apply(self, image: torch.Tensor, mask: torch.Tensor | None, params: Params) -> Pair:
        gamma = params["gamma"]
        if bool((gamma == 1).all()):
            return image, mask
        lo, rng = _range(image)
        out = ((image - lo) / rng).clamp(min=0) ** per_sample(gamma, image) * rng + lo
        return torch.where(per_sample(gamma != 1, image).bool(), out, image), mask  # untouched samples stay exact


class Gain(Transform):
    """With probability ``p``, multiply the sample by a factor in [low, high]."""

    def __init__(self, p: float, low: float, high: float) -> None:
        self.p, self.low, self.high = p, low, high

    def draw(self, gen: torch.Generator, image: torch.Tensor) -> Params:
        return {"gain": _factors(gen, len(image), self.p, self.low, self.high, False, 1.0)}

    def apply(self, image: torch.Tensor, mask: torch.Tensor | None, params: Params) -> Pair:
        return image * per_sample(params["gain"], image), mask


class ContrastBrightness(Transform):
    """With probability ``p`` (one coin for both): contrast around the sample's mean by a factor in ``contrast``
    (log scale) and a brightness shift of up to +-``brightness`` of the sample's intensity range."""

    def __init__(self, p: float, contrast: tuple[float, float] = (0.8, 1.25), brightness: float = 0.1) -> None:
        self.p, self.contrast, self.brightness = p, contrast, brightness

    def draw(self, gen: torch.Generator, image: torch.Tensor) -> Params:
        n = len(image)
        on = coin(gen, n, self.p)
        contrast = torch.where(on, log_uniform(gen, *self.contrast, n), torch.ones(n))
        return {"contrast": contrast, "brightness": torch.where(on, uniform(gen, -self.brightness, self.brightness, n),
                                                                 torch.zeros(n))}

    def apply(self, image: torch.Tensor, mask: torch.Tensor | None, params: Params) -> Pair:
        mean = image.mean(dim=tuple(range(1, image.dim())), keepdim=True)
        _, rng = _range(image)
        contrast, brightness = per_sample(params["contrast"], image), per_sample(params["brightness"], image)
        return (image - mean) * contrast + mean + brightness * rng, mask


class ScaleShift(Transform):
    """Always: multiply by 1 +- ``scale`` and add +-``shift`` standard deviations of the sample (SimCLR's colour
    jitter for gray images)."""

    def __init__(self, scale: float = 0.4, shift: float = 0.4) -> None:
        self.scale, self.shift = scale, shift

    def draw(self, gen: torch.Generator, image: torch.Tensor) -> Params:
        n = len(image)
        return {"scale": 1 + uniform(gen, -self.scale, self.scale, n), "shift": uniform(gen, -self.shift, self.shift, n)}

    def apply(self, image: torch.Tensor, mask: torch.Tensor | None, params: Params) -> Pair:
        shift = per_sample(params["shift"], image) * _std(image)
        return image * per_sample(params["scale"], image) + shift, mask


class Noise(Transform):
    """With probability ``p``, add Gaussian noise of standard deviation ``sigma`` (``relative``: times the sample's
    own standard deviation). The noise itself is part of the draw."""

    def __init__(self, p: float, sigma: float, relative: bool = False) -> None:
        self.p, self.sigma, self.relative = p, sigma, relative

    def draw(self, gen: torch.Generator, image: torch.Tensor) -> Params:
        noise = torch.randn(image.shape, generator=gen)
        return {"on": coin(gen, len(image), self.p), "noise": noise}

    def apply(self, image: torch.Tensor, mask: torch.Tensor | None, params: Params) -> Pair:
        sigma = self.sigma * (_std(image) if self.relative else 1.0)
        on = per_sample(params["on"], image)
        return image + on * sigma * params["noise"].to(image.dtype), mask
