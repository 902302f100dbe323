"""Which engine runs a bundle's network at predict time: the fastest *verified* exported variant this machine
can load (OpenVINO, then ONNX Runtime: :data:`~tumorscope.bundle.variants.PREFERENCE`), else PyTorch.

Whatever runs, it is an ``nn.Module`` mapping a float32 (B, C, H, W) batch to logits, so predict's code is the
same for every engine. An ensemble's exported members are joined by the same
:class:`~tumorscope.models.ensemble.ProbabilityEnsemble` as in PyTorch (voting, channels, sizes, mean).
``predict --runtime`` or ``TUMORSCOPE_RUNTIME`` choose: ``auto`` (default), ``pytorch``, ``openvino``, ``onnx``
or an exact variant name such as ``openvino-fp32``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from tumorscope.bundle.variants import (
    PREFERENCE,
    RUNTIME_CHOICES,
    RUNTIMES,
    VARIANTS_DIR,
    read_variants,
    usable,
)
from tumorscope.errors import TumorscopeError


class Bundle(Protocol):
    """What this module reads of a :class:`tumorscope.bundle.bundle.Bundle` (which imports this module)."""

    path: Path
    config: dict[str, Any]

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> nn.Module: ...

log = logging.getLogger(__name__)

ENV = "TUMORSCOPE_RUNTIME"
# the Python module each runtime needs (the optional extra ``tumorscope[fast]`` installs them)
MODULES = {"openvino": "openvino", "onnx": "onnxruntime"}
OPENVINO_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}  # as verified: no silent bf16 on AMX / AVX512-BF16 CPUs


def installed(runtime: str) -> bool:
    """Whether the runtime's Python package can be imported here (PyTorch always can)."""
    return runtime == "pytorch" or importlib.util.find_spec(MODULES[runtime]) is not None


class GraphNetwork(nn.Module):
    """One exported graph (ONNX file or OpenVINO IR) as a module: float32 batch in, its first output out."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if path.suffix == ".xml":
            import openvino as ov

            self._compiled = ov.Core().compile_model(str(path), "CPU", OPENVINO_CONFIG)
            self._session = None
        else:
            import onnxruntime as ort

            self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self._input = self._session.get_inputs()[0].name

    def forward(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        batch = np.ascontiguousarray(x.detach().float().numpy() if isinstance(x, torch.Tensor) else x,
                                     dtype=np.float32)
        if self._session is not None:
            out = self._session.run(None, {self._input: batch})[0]
        else:
            request = self._compiled.create_infer_request()  # one per call: callers may run in threads
            request.infer({0: batch})
            out = request.get_output_tensor(0).data.copy()
        return torch.from_numpy(np.asarray(out, dtype=np.float32))


class VariantNetwork(nn.Module):
    """An exported variant's whole network: a numpy or torch float32 batch in, torch logits out."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.net(torch.as_tensor(x, dtype=torch.float32))


def variant_network(bundle: Bundle, folder: Path, record: dict[str, Any]) -> nn.Module:
    """The network of the variant in ``folder``: its graph, or its members' graphs joined as the bundle's ensemble."""
    graphs: list[nn.Module] = [GraphNetwork(folder / g) for g in record["graphs"]]
    spec = bundle.config["model"]
    if spec["name"] != "ensemble":
        return VariantNetwork(graphs[0]).eval()
    from tumorscope.models.ensemble import ProbabilityEnsemble

    opts = spec.get("options", {})
    members = opts["members"]
    return VariantNetwork(ProbabilityEnsemble(graphs, [m["channels"] for m in members], spec["out_channels"],
                                              opts.get("temperature", 1.0), sizes=[m.get("size") for m in members])).eval()


def candidates(choice: str) -> list[str]:
    """Variant names ``choice`` allows, fastest first (``pytorch``: none)."""
    if choice not in RUNTIME_CHOICES:
        raise TumorscopeError(f"unknown runtime {choice!r} (choose from {', '.join(RUNTIME_CHOICES)})")
    if choice == "auto":
        return list(PREFERENCE)
    return [n for n in PREFERENCE if n == choice or n.split("-")[0] == choice]


def choose(bundle: Bundle, choice: str | None = None) -> tuple[str, nn.Module]:
    """(variant name or ``"pytorch"``, network) for ``choice`` (None: ``TUMORSCOPE_RUNTIME``, else ``auto``).

    ``auto`` falls back quietly to PyTorch; a runtime asked for by name that cannot run is an error."""
    choice = (choice or os.environ.get(ENV, "") or "auto").strip().lower()
    names = candidates(choice)
    if choice == "pytorch":
        return "pytorch", bundle.model
    table = read_variants(bundle.path)
    weights = bundle.config.get("weights_sha256")
    problems = []
    for name in fastest_first(names, table):
        runtime = name.split("-")[0]
        record = table.get(name)
        why = ("not exported (tumorscope export)" if record is None else
               f"needs {MODULES[runtime]} (pip install 'tumorscope[fast]')" if not installed(runtime) else
               usable(bundle.path, name, record, weights))
        if why is None:
            log.info("%s: running its verified %s variant", bundle.name, name)
            return name, variant_network(bundle, bundle.path / VARIANTS_DIR / name, record)  # type: ignore[arg-type]
        problems.append(f"{name} {why}")
        if record is not None and record.get("passed") and installed(runtime):
            log.warning("%s: not using its %s variant: %s", bundle.name, name, why)
    if choice != "auto":
        raise TumorscopeError(f"runtime {choice} cannot run this model: {'; '.join(problems)}", bundle.path)
    return "pytorch", bundle.model


def fastest_first(names: list[str], table: dict[str, dict[str, Any]]) -> list[str]:
    """``names`` with OpenVINO before ONNX Runtime, and within a runtime the variant its export measured faster
    first (ONNX Runtime int8 can be slower than float32 on some networks: docs/runtime.md)."""
    def speed(name: str) -> float:
        return -float(table.get(name, {}).get("verification", {}).get("speedup_here", 0.0))

    return sorted(names, key=lambda n: (RUNTIMES.index(n.split("-")[0]), speed(n), PREFERENCE.index(n)))
