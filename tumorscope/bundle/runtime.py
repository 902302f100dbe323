"""Which engine runs a bundle's network at predict time: the fastest *verified* exported variant this machine
can load (OpenVINO, then ONNX Runtime: :data:`~tumorscope.bundle.variants.PREFERENCE`), else PyTorch.

Whatever runs maps a float32 (B, C, H, W) batch to logits. An exported variant is a :class:`VariantNetwork`:
numpy in, numpy out, and neither this module nor predict's variant path imports torch or MONAI
(tests/predict/test_variant_imports.py); its ensemble members are joined as
:class:`~tumorscope.models.ensemble.ProbabilityEnsemble` joins them (voting, channels, sizes, mean).
``predict --runtime`` or ``TUMORSCOPE_RUNTIME`` choose: ``auto`` (default), ``pytorch``, ``openvino``, ``onnx``
or an exact variant name such as ``openvino-fp32``.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tumorscope.bundle.variants import (
    PREFERENCE,
    RUNTIME_CHOICES,
    RUNTIMES,
    VARIANTS_DIR,
    read_variants,
    usable,
)
from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.resample import resize_antialiased


class Bundle(Protocol):
    """What this module reads of a :class:`tumorscope.bundle.bundle.Bundle` (which imports this module)."""

    path: Path
    config: dict[str, Any]

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> Any: ...

log = logging.getLogger(__name__)

ENV = "TUMORSCOPE_RUNTIME"
# the Python module each runtime needs (the optional extra ``tumorscope[fast]`` installs them)
MODULES = {"openvino": "openvino", "onnx": "onnxruntime"}
OPENVINO_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}  # as verified: no silent bf16 on AMX / AVX512-BF16 CPUs
EPS = 1e-6  # as tumorscope.models.ensemble.EPS


def installed(runtime: str) -> bool:
    """Whether the runtime's Python package can be imported here (PyTorch always can)."""
    return runtime == "pytorch" or importlib.util.find_spec(MODULES[runtime]) is not None


class GraphNetwork:
    """One exported graph (ONNX file or OpenVINO IR): a float32 (B, C, H, W) array in, its first output out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.name.endswith((".xml", ".xml.gz")):
            self._compiled = _compile_openvino(path)
            self._session = None
        else:
            import onnxruntime as ort

            self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self._input = self._session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(x, dtype=np.float32)
        if self._session is not None:
            out = self._session.run(None, {self._input: batch})[0]
        else:
            request = self._compiled.create_infer_request()  # one per call: callers may run in threads
            request.infer({0: batch})
            out = request.get_output_tensor(0).data.copy()
        return np.asarray(out, dtype=np.float32)


def _compile_openvino(path: Path) -> Any:
    """An OpenVINO IR compiled for the CPU: ``NAME.xml`` or ``NAME.xml.gz`` (the IR's XML gzipped, as export
    writes it: 183 kB of text per U-Net shrink to 9 kB, which keeps a zoo bundle with its variant under 20 MB)
    beside ``NAME.bin``."""
    import openvino as ov

    core = ov.Core()
    if path.suffix != ".gz":
        return core.compile_model(str(path), "CPU", OPENVINO_CONFIG)
    weights = path.with_name(path.name.removesuffix(".xml.gz") + ".bin")
    model = core.read_model(gzip.decompress(path.read_bytes()).decode(), ov.Tensor(np.fromfile(weights, np.uint8)))
    return core.compile_model(model, "CPU", OPENVINO_CONFIG)


class GraphEnsemble:
    """An ensemble's member graphs joined as :class:`tumorscope.models.ensemble.ProbabilityEnsemble` joins its
    members (the same voters, channels, sizes, mean probability and temperature), in numpy: no torch.
    tests/bundle/test_runtime.py checks it against ``ProbabilityEnsemble`` on the same members."""

    def __init__(self, members: list[GraphNetwork], channels: list[list[int]], out_channels: int,
                 temperature: float = 1.0, sizes: list[Any] | None = None) -> None:
        self.members, self.channels, self.out_channels = members, channels, out_channels
        self.temperature = temperature
        self.sizes = [(int(s[0]), int(s[1])) if s else None for s in (sizes or [None] * len(members))]

    def voters(self, x: np.ndarray) -> list[int]:
        everyone = list(range(len(self.members)))
        if x.shape[1] < 2 or not all(np.array_equal(x[:, 0], x[:, c]) for c in range(1, x.shape[1])):
            return everyone
        return [i for i in everyone if len(self.channels[i]) == 1] or everyone

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit, logit, softmax

        probs = []
        for i in self.voters(x):
            xi = x[:, self.channels[i]]
            size = self.sizes[i]
            logits = self.members[i](resize_antialiased(xi, size) if size is not None else xi)
            probs.append(expit(logits) if self.out_channels == 1 else softmax(logits, axis=1))
        mean = np.clip(np.mean(probs, axis=0, dtype=np.float32), EPS, 1 - EPS)
        out = logit(mean) if self.out_channels == 1 else np.log(mean) / self.temperature
        return np.asarray(out, dtype=np.float32)


class VariantNetwork:
    """An exported variant's whole network: a float32 (B, C, H, W) batch in, logits out; numpy in, numpy out
    (no torch: predict's variant path), a torch tensor in, a torch tensor out (evaluation, benchmarks)."""

    def __init__(self, net: GraphNetwork | GraphEnsemble) -> None:
        self.net = net

    def __call__(self, x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return self.net(x)
        import torch

        return torch.from_numpy(self.net(x.detach().float().numpy()))

    def eval(self) -> VariantNetwork:  # an nn.Module's interface, for callers that set eval mode
        return self


def variant_network(bundle: Bundle, folder: Path, record: dict[str, Any]) -> VariantNetwork:
    """The network of the variant in ``folder``: its graph, or its members' graphs joined as the bundle's ensemble."""
    graphs = [GraphNetwork(folder / g) for g in record["graphs"]]
    spec = bundle.config["model"]
    if spec["name"] != "ensemble":
        return VariantNetwork(graphs[0])
    opts = spec.get("options", {})
    members = opts["members"]
    return VariantNetwork(GraphEnsemble(graphs, [m["channels"] for m in members], spec["out_channels"],
                                        opts.get("temperature", 1.0), sizes=[m.get("size") for m in members]))


def candidates(choice: str) -> list[str]:
    """Variant names ``choice`` allows, fastest first (``pytorch``: none)."""
    if choice not in RUNTIME_CHOICES:
        raise TumorscopeError(f"unknown runtime {choice!r} (choose from {', '.join(RUNTIME_CHOICES)})")
    if choice == "auto":
        return list(PREFERENCE)
    return [n for n in PREFERENCE if n == choice or n.split("-")[0] == choice]


def choose(bundle: Bundle, choice: str | None = None) -> tuple[str, Any]:
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
