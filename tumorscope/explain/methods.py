"""Attribution methods behind one call: Grad-CAM, Grad-CAM++ and occlusion (``monai.visualize``), saliency
and integrated gradients (Captum). Every method explains one scalar per image (:class:`ScoreModel`):

* segmentation: the mean tumor logit inside the predicted mask (the whole image when the mask is empty);
* classification: the logit of the predicted class (or a given class).

Maps come back at the network's input resolution, one (H, W) float map per image, larger = more evidence
for the score (Grad-CAM maps are >= 0; saliency is |gradient|; IG and occlusion are signed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tumorscope.errors import TumorscopeError
from tumorscope.explain.layers import MemberLayer, for_input, member_layers
from tumorscope.explain.names import METHODS


class ScoreModel(nn.Module):
    """A network reduced to one score per image, selected by ``select``: (N|1, 1, H, W) region weights
    summing to 1 (segmentation) or an (N|1, K) one-hot class row (classification). Returns (N, 1).

    ``probability`` scores with sigmoid/softmax instead of logits (for deletion/insertion curves)."""

    def __init__(self, model: nn.Module, task: str, probability: bool = False) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.probability = probability

    def forward(self, x: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
        out = self.model(x).float()
        if self.task == "segmentation":
            out = out[:, :1]
            if self.probability:
                out = torch.sigmoid(out)
            if out.shape[-2:] != select.shape[-2:]:
                out = F.interpolate(out, size=select.shape[-2:], mode="bilinear", align_corners=False)
            return (out * select).sum(dim=(2, 3))
        if self.probability:
            out = torch.softmax(out, dim=1)
        return (out * select).sum(dim=1, keepdim=True)


@dataclass
class Targets:
    """What each image's score is: the ``select`` tensor plus a readable description per image."""

    select: torch.Tensor
    described: list[dict[str, Any]]

    def __getitem__(self, idx: Any) -> Targets:
        idx_list = np.arange(len(self.described))[idx]
        return Targets(self.select[torch.as_tensor(idx_list)], [self.described[i] for i in np.atleast_1d(idx_list)])


class Explainer:
    """Heatmaps for one network or ensemble. Build it once per model: monai's CAM keeps its hooks on the network.

    ``layer`` overrides the automatic Grad-CAM target layer (a name from ``model.named_modules()``; for an
    ensemble a name inside every member, or one member's ``members.<i>.<name>``). An ensemble's Grad-CAM is the
    mean of the maps of its score taken at each voting member's layer (:func:`~tumorscope.explain.layers.member_layers`).
    """

    def __init__(
        self,
        model: nn.Module,
        task: str,
        classes: list[str] | None = None,
        layer: str | None = None,
        threshold: float = 0.5,
        ig_steps: int = 32,
        batch_size: int = 8,
    ) -> None:
        self.model = model.eval()
        self.task = task
        self.classes = list(classes or [])
        self.layer = layer
        self.threshold = threshold
        self.ig_steps = ig_steps
        self.batch_size = batch_size
        # eval() on the wrappers too: monai's CAM restores the wrapper's mode onto the whole network
        self.logit = ScoreModel(self.model, task).eval()
        self.prob = ScoreModel(self.model, task, probability=True).eval()
        self._cams: dict[tuple[str, ...], Any] = {}
        self._layers: tuple[str | None, list[MemberLayer]] | None = None  # (override, every member's layer)
        self._used: dict[str, None] = {}  # layers Grad-CAM used, in order

    # -- targets and scores ---------------------------------------------------------------------------
    @torch.no_grad()
    def targets(self, x: torch.Tensor, class_index: list[int] | None = None) -> Targets:
        """The score each image is explained by (see module docstring)."""
        out = torch.cat([self.model(x[i : i + self.batch_size]).float() for i in range(0, len(x), self.batch_size)])
        if self.task == "segmentation":
            prob = torch.sigmoid(out[:, :1])
            region = (prob >= self.threshold).float()
            empty = region.sum(dim=(1, 2, 3)) == 0
            region[empty] = 1.0
            select = region / region.sum(dim=(2, 3), keepdim=True)
            described = [
                {"target": "whole image (no tumor predicted)" if e else "predicted tumor region",
                 "region_pixels": int(r.sum()), "max_probability": float(p.max())}
                for e, r, p in zip(empty.tolist(), region, prob)
            ]
            return Targets(select, described)
        probs = torch.softmax(out, dim=1)
        idx = torch.as_tensor(class_index) if class_index is not None else probs.argmax(dim=1)
        select = F.one_hot(idx, out.shape[1]).float()
        described = [
            {"target": f"class {self._name(int(i))}", "class_index": int(i), "probability": float(p[i])}
            for i, p in zip(idx, probs)
        ]
        return Targets(select, described)

    def _name(self, i: int) -> str:
        return self.classes[i] if i < len(self.classes) else str(i)

    @torch.no_grad()
    def score(self, x: torch.Tensor, select: torch.Tensor, batch_size: int = 32) -> np.ndarray:
        """(N,) probability-scale scores of ``x`` (select broadcast when it has one row)."""
        out = []
        for i in range(0, len(x), batch_size):
            sel = select if select.shape[0] == 1 else select[i : i + batch_size]
            out.append(self.prob(x[i : i + batch_size], sel)[:, 0])
        return torch.cat(out).numpy()

    # -- attribution ----------------------------------------------------------------------------------
    def layers_for(self, x: torch.Tensor) -> list[MemberLayer]:
        """The Grad-CAM layers of the networks that run on the batch ``x`` (chosen once per model)."""
        if self._layers is None or self._layers[0] != self.layer:
            self._layers = (self.layer, member_layers(self.model, x, self.task, self.layer, voting=False))
        return for_input(self.model, x, self._layers[1])

    @property
    def layer_names(self) -> str | None:
        """The layers Grad-CAM used so far (comma-separated), else the ``layer`` option."""
        return ", ".join(self._used) if self._used else self.layer

    def attribute(self, x: torch.Tensor, method: str, targets: Targets | None = None) -> np.ndarray:
        """(N, H, W) float32 maps for the (N, C, H, W) network input ``x``."""
        if method not in METHODS:
            raise TumorscopeError(f"unknown explanation method {method!r}; choose from {', '.join(METHODS)}")
        targets = targets if targets is not None else self.targets(x)
        maps = []
        step = 1 if method in ("occlusion", "gradcampp") else self.batch_size  # monai's take one image at a time
        for i in range(0, len(x), step):
            xb, sel = x[i : i + step], targets.select[i : i + step]
            maps.append(getattr(self, f"_{method}")(xb, sel))
        return np.concatenate(maps).astype(np.float32)

    def _cam(self, kind: str, x: torch.Tensor, select: torch.Tensor) -> np.ndarray:
        """monai's (Grad-)CAM at each voting network's layer, averaged. Its hooks stay on the network and keep the
        last call's tensors, so they are cleared first: a layer that did not run can never lend a stale map."""
        from monai.visualize import GradCAM, GradCAMpp

        layers = self.layers_for(x)
        key = (kind, *(p.path for p in layers))
        if key not in self._cams:
            cls = GradCAM if kind == "gradcam" else GradCAMpp
            names: Any = [f"model.{p.path}" for p in layers]  # monai annotates str, takes a sequence (ensure_tuple)
            self._cams[key] = cls(self.logit, target_layers=names, postprocessing=lambda m: m)
        cam = self._cams[key]
        maps = []
        for j, p in enumerate(layers):
            cam.nn_module.activations.clear()
            cam.nn_module.gradients.clear()
            with torch.enable_grad():
                maps.append(cam(x.clone().requires_grad_(True), class_idx=0, layer_idx=j, select=select)[:, 0].detach())
            self._used[p.path] = None
        return torch.stack(maps).mean(dim=0).numpy()

    def _gradcam(self, x: torch.Tensor, select: torch.Tensor) -> np.ndarray:
        return self._cam("gradcam", x, select)

    def _gradcampp(self, x: torch.Tensor, select: torch.Tensor) -> np.ndarray:
        return self._cam("gradcampp", x, select)

    def _saliency(self, x: torch.Tensor, select: torch.Tensor) -> np.ndarray:
        from captum.attr import Saliency

        attr = Saliency(self.logit).attribute(x.clone().requires_grad_(True), target=0, abs=True,
                                              additional_forward_args=(select,))
        return attr.sum(dim=1).detach().numpy()

    def _ig(self, x: torch.Tensor, select: torch.Tensor) -> np.ndarray:
        """Integrated gradients from a black (all-zero, i.e. background after normalisation) baseline;
        ``internal_batch_size`` bounds memory to one batch of interpolation steps."""
        from captum.attr import IntegratedGradients

        attr = IntegratedGradients(self.logit).attribute(
            x, baselines=torch.zeros_like(x), target=0, additional_forward_args=(select,), n_steps=self.ig_steps,
            internal_batch_size=self.batch_size,
        )
        return attr.sum(dim=1).detach().numpy()

    @torch.no_grad()
    def _occlusion(self, x: torch.Tensor, select: torch.Tensor) -> np.ndarray:
        """Drop in the score's probability when a Gaussian-weighted patch (1/8 of the side) is occluded."""
        from monai.visualize import OcclusionSensitivity

        size = max(4, min(x.shape[-2:]) // 8)
        occ = OcclusionSensitivity(self.prob, mask_size=size, n_batch=32, overlap=0.25, activate=False, verbose=False)
        base = self.prob(x, select)[:, 0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # monai's MetaTensor indexing warnings
            occluded, _ = occ(x, select=select)
        return (base[:, None, None] - torch.as_tensor(occluded).reshape(len(x), *x.shape[-2:])).numpy()


def to_grid(maps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize (N, h, w) maps to the input's (Y, X) grid (bilinear)."""
    if maps.shape[-2:] == tuple(shape):
        return maps.astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    return F.interpolate(t, size=tuple(shape), mode="bilinear", align_corners=False)[:, 0].numpy()


def normalized(heat: np.ndarray) -> np.ndarray:
    """Positive evidence scaled to [0, 1] (all zeros when there is none), for display."""
    pos = np.clip(heat, 0, None)
    top = float(pos.max()) if pos.size else 0.0
    return (pos / top).astype(np.float32) if top > 0 else np.zeros_like(pos, dtype=np.float32)
