"""An ensemble of trained networks that behaves like one network.

Each member reads its own input channels (e.g. a FLAIR-only U-Net reads channel 1 of the three MR sequences a
3-sequence U-Net reads), a classifier member at its own input size (the batch resized to it, antialiased as the
preprocessing resizes), and the output is the logit of the members' mean probability (sigmoid for one output
channel, softmax otherwise), so predict, evaluate, explain and the post-processing use it unchanged.
A single-sequence input (all channels equal) is left to the members that read one channel (see ``voters``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.pipeline import resize

EPS = 1e-6


class ProbabilityEnsemble(nn.Module):
    """Mean of the members' probabilities, returned as logits (sigmoid) or log-probabilities (softmax)."""

    def __init__(self, members: list[nn.Module], channels: list[list[int]], out_channels: int,
                 temperature: float = 1.0, sizes: list[tuple[int, int] | None] | None = None,
                 multilabel: bool = False) -> None:
        super().__init__()
        if not members or len(members) != len(channels):
            raise ValueError("an ensemble needs one channel list per member")
        if sizes is not None and len(sizes) != len(members):
            raise ValueError("an ensemble needs one input size (or None) per member")
        self.members = nn.ModuleList(members)
        self.channels = [list(c) for c in channels]
        # per member: the (H, W) it was trained on, when it differs from the ensemble's input (classifiers only)
        self.sizes: list[tuple[int, int] | None] = [(int(s[0]), int(s[1])) if s else None
                                                    for s in (sizes or [None] * len(members))]
        self.out_channels = out_channels
        self.temperature = temperature  # softmax only: log-probabilities divided by it (fitted on validation)
        self.multilabel = multilabel  # independent sigmoid outputs (e.g. the BraTS regions), averaged per channel

    def voters(self, x: torch.Tensor) -> list[int]:
        """Members that vote on ``x``: all, except that when every input channel is identical (one sequence
        repeated, e.g. a FLAIR-only NIfTI given to an mri3 ensemble) only one-channel members vote, since a
        member trained on distinct sequences is out of its domain there (measured: docs/segmentation.md)."""
        everyone = list(range(len(self.members)))
        if x.shape[1] < 2 or not all(torch.equal(x[:, 0], x[:, c]) for c in range(1, x.shape[1])):
            return everyone
        return [i for i in everyone if len(self.channels[i]) == 1] or everyone

    def member_input(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """What member ``i`` reads of the ensemble's input: its channels, at its own size."""
        xi = x[:, self.channels[i]]
        size = self.sizes[i]
        return resize(xi, size) if size is not None else xi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = [self._probability(self.members[i](self.member_input(i, x))) for i in self.voters(x)]
        mean = torch.stack(probs).mean(0).clamp(EPS, 1 - EPS)
        return torch.logit(mean) if self.sigmoid else torch.log(mean) / self.temperature

    @property
    def sigmoid(self) -> bool:
        return self.out_channels == 1 or self.multilabel

    def _probability(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        return torch.sigmoid(logits) if self.sigmoid else torch.softmax(logits, dim=1)


def build_ensemble(in_channels: int, out_channels: int, build_member: Callable[..., nn.Module],
                   members: list[dict[str, Any]] | None = None, temperature: float = 1.0, multilabel: bool = False,
                   **_: object) -> nn.Module:
    """Registry builder: ``members`` = [{name, in_channels, options, channels[, size]}] (as a bundle config stores
    it; ``size`` only for a classifier member whose input size differs from the ensemble's), each made by
    ``build_member(name, in_channels, out_channels, **options)`` (the registry's ``build_model``);
    ``multilabel``: the outputs are independent sigmoids (averaged per channel) rather than a softmax."""
    if not members:
        raise TumorscopeError("'ensemble' is made from trained runs by `tumorscope ensemble RUN RUN ...`, "
                              "not trained directly")
    nets = [build_member(m["name"], m["in_channels"], out_channels, **m.get("options", {})) for m in members]
    for m in members:
        if max(m["channels"]) >= in_channels:
            raise ValueError(f"member channels {m['channels']} exceed the ensemble's {in_channels} input channels")
    return ProbabilityEnsemble(nets, [m["channels"] for m in members], out_channels, temperature,
                               sizes=[m.get("size") for m in members], multilabel=multilabel)
