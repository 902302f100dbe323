"""Making a verified variant: export the graphs into a temporary folder beside ``variants/<name>``, run them
against the float32 PyTorch network on real images, and keep the folder only when they pass. Either way the
numbers go into ``variants.json`` and the card (:mod:`tumorscope.bundle.variants`)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from tumorscope.atomic import atomic_path
from tumorscope.bundle import Bundle
from tumorscope.bundle.runtime import MODULES, variant_network
from tumorscope.bundle.variants import VARIANTS_DIR, precision, variant_name, write_variant_record
from tumorscope.bundle.version import weights_sha256
from tumorscope.digest import file_digest
from tumorscope.errors import TumorscopeError
from tumorscope.export.graphs import write_graphs
from tumorscope.export.verify import CheckData, calibration_batch, compare, run

log = logging.getLogger(__name__)


class _Rejected(Exception):
    """The variant failed its verification: the temporary folder is dropped."""


@dataclass
class Exporter:
    """Exports one bundle's variants, running the float32 PyTorch reference on the checks once for all."""

    bundle: Bundle
    checks: CheckData
    command: str = ""
    calibration_size: int = 128
    _reference: tuple[Any, float] | None = None

    def reference(self) -> tuple[Any, float]:
        if self._reference is None:
            self._reference = run(self.bundle, self.checks, self.bundle.model)
        return self._reference

    def make(self, runtime: str, int8: bool = False, weights_only: bool = False) -> dict[str, Any]:
        """Export, verify and record variant ``<runtime>-<fp32|int8|int8w>`` (``weights_only``: int8 weights,
        float32 activations, OpenVINO only); returns its record."""
        bundle, name = self.bundle, variant_name(runtime, int8, weights_only)
        self._check_runtime(runtime, int8 or weights_only)
        if weights_only and runtime != "openvino":
            raise TumorscopeError("int8 weights with float activations (--int8-weights) are made for OpenVINO only")
        if bundle.task not in ("segmentation", "classification"):
            raise TumorscopeError(f"cannot export a {bundle.task} model", bundle.path)
        spec, pre = bundle.config["model"], bundle.preprocessor
        if any(isinstance(m, torch.nn.Conv3d) for m in bundle.model.modules()):
            raise TumorscopeError("export runs 2-D networks; a 3-D model keeps running in PyTorch", bundle.path)
        calib = calibration_batch(bundle, self.checks, self.calibration_size) if int8 and not weights_only else None
        reference = self.reference()
        target = bundle.path / VARIANTS_DIR / name
        record: dict[str, Any] = {"runtime": runtime, "precision": precision(int8, weights_only),
                                  "weights_sha256": weights_sha256(bundle), "command": self.command,
                                  "made_with": _versions(runtime, int8 or weights_only)}
        if calib is not None:
            record["calibration"] = f"{len(calib)} network inputs from {self.checks.calibration_source}"  # type: ignore[arg-type]
        try:
            with atomic_path(target) as tmp:
                tmp.mkdir()
                record["graphs"] = write_graphs(bundle.model, spec["in_channels"], tuple(pre.size), runtime, tmp,
                                                calib, weights_only=weights_only)
                record["verification"] = compare(bundle, self.checks, reference, variant_network(bundle, tmp, record))
                record["passed"] = record["verification"]["passed"]
                if not record["passed"]:
                    raise _Rejected
                files = sorted(p for p in tmp.iterdir() if p.is_file())
                record["files"] = {p.name: file_digest(p, "sha256") for p in files}
                record["size_mb"] = round(sum(p.stat().st_size for p in files) / 2**20, 2)
        except _Rejected:
            shutil.rmtree(target, ignore_errors=True)  # an older variant of that name is no longer trusted
            record["size_mb"] = 0
            log.warning("%s: %s failed its verification and was not kept: %s", bundle.name, name,
                        record["verification"]["summary"])
        write_variant_record(bundle.path, name, record)
        return record

    @staticmethod
    def _check_runtime(runtime: str, int8: bool) -> None:
        if runtime not in MODULES:
            raise TumorscopeError(f"unknown export format {runtime!r} (choose openvino or onnx)")
        needed = [MODULES[runtime]] + (["nncf"] if int8 and runtime == "openvino" else []) + ["onnx"]
        missing = [m for m in needed if not _importable(m)]
        if missing:
            raise TumorscopeError(f"exporting to {runtime} needs {', '.join(missing)}: pip install 'tumorscope[fast]'")


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _versions(runtime: str, int8: bool) -> dict[str, str]:
    names = ["tumorscope", "torch", "onnx", MODULES[runtime]] + (["nncf"] if int8 and runtime == "openvino" else [])
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "?"
    return out


def default_data(bundle: Bundle) -> Path:
    """The data folder the bundle was trained on, as its training record names it (relative to the cwd)."""
    from tumorscope.bundle.training_split import training_options

    try:
        return Path(training_options(bundle.config)["data"])
    except (KeyError, TypeError) as exc:
        raise TumorscopeError("the bundle records no training data: give --data", bundle.path) from exc
