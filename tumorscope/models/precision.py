"""Compute precision and memory layout on the CPU: bfloat16 autocast only where the CPU computes bfloat16
natively; channels-last tensors for 2-D convolutions.

On CPUs with AVX512-BF16 or AMX, bf16 autocast runs convolutions ~4x faster than float32. On CPUs without
them (AVX2-only machines: most laptops, many AMD EPYC servers) oneDNN emulates bf16 and the same network
runs ~14x *slower* than float32 (`python bench/precision.py` measures both on the machine at hand). So a
request for bf16 (the default, ``--no-bf16`` turns it off) is honoured only where it pays; elsewhere the
work runs in float32, which is also the more precise of the two. ``TUMORSCOPE_BF16=1`` / ``=0`` overrides
the detection.
"""

from __future__ import annotations

import functools
import logging
import os
import platform

import torch

log = logging.getLogger(__name__)

ENV = "TUMORSCOPE_BF16"


def _cpu_flag(name: str) -> bool:
    probe = getattr(torch.cpu, name, None)  # private torch helpers; absent -> assume the feature is absent
    try:
        return bool(probe()) if callable(probe) else False
    except RuntimeError:
        return False


@functools.cache
def native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX), or ``TUMORSCOPE_BF16`` says so."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in ("1", "true", "on", "yes"):
        return True
    if forced in ("0", "false", "off", "no"):
        return False
    return _cpu_flag("_is_avx512_bf16_supported") or _cpu_flag("_is_amx_tile_supported")


@functools.cache
def _warn_once() -> None:
    log.info("this CPU has no native bfloat16 (AVX512-BF16 / AMX): computing in float32, which is much faster "
             "here than emulated bf16 (set %s=1 to force bf16)", ENV)


def use_bf16(requested: bool) -> bool:
    """Whether bf16 autocast should actually run for a request of ``requested``."""
    if requested and not native_bf16():
        _warn_once()
        return False
    return requested


def autocast(bf16: bool) -> torch.autocast:
    """CPU autocast context: bfloat16 when requested *and* native here, else a no-op (float32)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(bf16))


def channels_last(t: torch.Tensor) -> torch.Tensor:
    """A (B, C, H, W) batch in channels-last memory order (other shapes unchanged): with the network's weights
    in the same order, oneDNN skips its layout reorders (1.3x training, 1.4x inference in float32 for
    ResNet-18 w32 at 128 px on one AVX2 core; ``bench/precision.py``). Values are unchanged."""
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """The model's 4-D weights in channels-last order, in place (see :func:`channels_last`)."""
    return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def compute_dtype(bf16: bool) -> str:
    """The dtype the convolutions run in for a request of ``bf16``: ``"bfloat16"`` or ``"float32"``."""
    return "bfloat16" if use_bf16(bf16) else "float32"


def cpu_description() -> dict[str, object]:
    """What a timing was measured on: processor, cores torch sees and whether bf16 is native."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return {"processor": name, "cpu_count": os.cpu_count(), "native_bf16": native_bf16(),
            "avx512": _cpu_flag("_is_avx512_supported")}
