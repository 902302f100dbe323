"""The Preprocessor: one saved configuration that turns any Image into model input, identically in
training, evaluation and prediction (it travels inside every bundle)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.channels import select_channels
from tumorscope.preprocess.crop import CROPS, crop_foreground, foreground_box, uncrop
from tumorscope.preprocess.enhance import enhance
from tumorscope.preprocess.intensity import normalize
from tumorscope.preprocess.resample import resize_antialiased, with_neighbours_array

if TYPE_CHECKING:  # torch loads for the PyTorch path only (tensor, resize): an exported variant reads network_input
    import torch


@dataclass
class Preprocessor:
    """Channel choice -> intensity normalisation (per volume or per image) -> enhancement -> (crop) -> resize.

    ``size`` is the (H, W) the network sees; predictions are resized back to the input grid.
    """

    channels: str = "flair"
    normalization: str = "percentile"
    enhancement: str = "none"
    size: tuple[int, int] = (128, 128)
    context: int = 0  # 2.5-D: neighbouring slices on each side added as channels
    expected_channels: int | None = None  # with channels="all": the channel count the model was trained on
    crop: str = "none"  # "foreground": the square box around the foreground (classification)

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise TumorscopeError(f"crop {self.crop!r}: choose from {', '.join(CROPS)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "size" in kw:
            kw["size"] = tuple(kw["size"])
        return cls(**kw)

    @property
    def in_channels(self) -> int:
        """Channels the network receives (-1 when they depend on the data: ``channels="all"``)."""
        per_slice = 3 if self.channels in ("rgb", "mri3") else 1 if self.channels in ("flair", "gray") else -1
        return per_slice * (1 + 2 * self.context) if per_slice > 0 else -1

    def arrays(self, stack: np.ndarray, path: object = None) -> np.ndarray:
        """(N, Y, X, C) raw slices of ONE volume (or one image, N=1) -> (N, C', Y, X) float32 normalised.

        The volume is normalised as a whole, so slice statistics match between training and prediction.
        """
        if stack.ndim != 4:
            raise TumorscopeError(f"expected 2-D slices, got an array of shape {stack.shape}", path)  # type: ignore[arg-type]
        x = select_channels(stack, self.channels, path)
        if self.expected_channels is not None and x.shape[-1] != self.expected_channels:
            raise TumorscopeError(
                f"has {x.shape[-1]} channel(s); this model was trained on {self.expected_channels}", path  # type: ignore[arg-type]
            )
        if not np.isfinite(x).all():
            raise TumorscopeError("image contains NaN or infinite values", path)  # type: ignore[arg-type]
        x = normalize(x, self.normalization)
        if self.enhancement != "none":
            x = np.stack([enhance(s, self.enhancement) for s in x])
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def tensor(self, stack: np.ndarray, path: object = None) -> torch.Tensor:
        """Like :meth:`arrays`, then resized to ``size`` as a torch tensor."""
        import torch

        x = torch.from_numpy(self.arrays(stack, path))
        x = resize(crop_foreground(x) if self.crop == "foreground" else x, self.size)
        return with_neighbours(x, self.context) if self.context else x

    def network_input(self, stack: np.ndarray, path: object = None) -> np.ndarray:
        """:meth:`tensor` as a numpy array computed without torch (to float32 rounding: resample.py), for an
        exported variant; a ``crop`` bundle goes through :meth:`tensor` (the crop is written in torch)."""
        if self.crop != "none":
            return self.tensor(stack, path).numpy()
        x = resize_antialiased(self.arrays(stack, path), self.size)
        return with_neighbours_array(x, self.context) if self.context else x

    def to_input_grid(self, maps: np.ndarray, stack: np.ndarray, path: object = None) -> np.ndarray:
        """(N, h, w) maps on the network grid (e.g. heatmaps) -> the (Y, X) grid of the raw ``stack``, undoing
        the resize and, with ``crop``, the foreground crop (zeros outside the box)."""
        import torch

        box = foreground_box(torch.from_numpy(self.arrays(stack, path))) if self.crop == "foreground" else None
        return uncrop(torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32)), box,
                      tuple(stack.shape[1:3])).numpy()

def with_neighbours(x: torch.Tensor, context: int = 1) -> torch.Tensor:
    """(N, C, H, W) ordered slices of one volume -> (N, (2k+1)C, H, W): slices i-k..i+k as channels
    (edges repeat the first/last slice)."""
    import torch

    idx = torch.arange(x.shape[0])
    parts = [x[(idx + o).clamp(0, x.shape[0] - 1)] for o in range(-context, context + 1)]
    return torch.cat(parts, dim=1)


def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize an (N, C, H, W) tensor (no-op when already that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    import torch.nn.functional as F

    if mode in ("nearest", "area"):
        return F.interpolate(x, size=size, mode=mode)
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)
