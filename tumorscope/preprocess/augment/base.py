"""The transform protocol: random parameters are drawn apart from their (deterministic) application.

As TorchIO's ``RandomGamma`` -> ``Gamma``: :meth:`Transform.draw` takes a generator and the batch and returns
one parameter set per sample (tensors with the batch as first dimension); :meth:`Transform.apply` uses only those
parameters, so the same draw applied twice gives the same result, and a draw can be inspected, logged or
replayed. Every transform takes an image batch ``(B, C, *spatial)`` with 2 or 3 spatial dimensions and an
optional mask batch of the same spatial shape, moved with the image by geometric transforms and left alone by
intensity ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Params = dict[str, torch.Tensor]
Pair = tuple[torch.Tensor, torch.Tensor | None]


def coin(gen: torch.Generator, n: int, p: float) -> torch.Tensor:
    """``n`` booleans, each True with probability ``p``."""
    return torch.rand(n, generator=gen) < p


def uniform(gen: torch.Generator, lo: float, hi: float, *shape: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=gen)


def log_uniform(gen: torch.Generator, lo: float, hi: float, n: int) -> torch.Tensor:
    """Factors spread evenly on a log scale (so x0.8 and x1.25 are equally likely)."""
    return torch.exp(uniform(gen, float(torch.log(torch.tensor(lo))), float(torch.log(torch.tensor(hi))), n))


def per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``values`` (B,) shaped to broadcast over a (B, C, *spatial) batch."""
    return values.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)


class Transform:
    """One random effect. Subclasses define :meth:`draw` and :meth:`apply`."""

    def draw(self, gen: torch.Generator, image: torch.Tensor) -> Params:
        raise NotImplementedError

    def apply(self, image: torch.Tensor, mask: torch.Tensor | None, params: Params) -> Pair:
        raise NotImplementedError

    def __call__(self, image: torch.Tensor, mask: torch.Tensor | None = None,
                 gen: torch.Generator | None = None) -> Pair:
        return self.apply(image, mask, self.draw(gen or torch.Generator(), image))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Compose:
    """Transforms applied in order, each with its own per-sample draw, from one generator of its own
    (``generator``: checkpointed by the trainer so a resumed run draws what an uninterrupted one would)."""

    def __init__(self, transforms: Sequence[Transform], seed: int = 0) -> None:
        self.transforms = tuple(transforms)
        self.generator = torch.Generator().manual_seed(seed)

    def draw(self, image: torch.Tensor) -> list[Params]:
        """Every transform's parameters for this batch (transforms keep the shape, so all draws come first)."""
        return [t.draw(self.generator, image) for t in self.transforms]

    def apply(self, image: torch.Tensor, mask: torch.Tensor | None, params: Sequence[Params]) -> Pair:
        for t, p in zip(self.transforms, params, strict=True):
            image, mask = t.apply(image, mask, p)
        return image, mask

    def __call__(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> Pair:
        if not self.transforms:
            return image, mask
        return self.apply(image, mask, self.draw(image))

    def __len__(self) -> int:
        return len(self.transforms)
