"""A bundle's network as inference graphs: ONNX (``torch.onnx.export``), OpenVINO IR (``openvino.convert_model``
of the ONNX file) and their int8 versions calibrated on real images (NNCF post-training quantization for
OpenVINO, ONNX Runtime static QDQ quantization for ONNX).

An ensemble is exported member by member (each graph reads what that member reads: its channels at its size);
the runtime joins them with the same ensemble code as PyTorch (:mod:`tumorscope.bundle.runtime`).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tumorscope.errors import TumorscopeError
from tumorscope.models.ensemble import ProbabilityEnsemble

OPSET = 17


@dataclass
class Part:
    """One graph to export: a network and how to feed it from the bundle's network input."""

    name: str
    net: nn.Module
    input_shape: tuple[int, int, int]  # (C, H, W) the graph reads
    member: int | None = None  # the ensemble member it is (None: the whole network)

    def feed(self, ensemble: nn.Module, x: torch.Tensor) -> np.ndarray:
        """What this part reads of a bundle input batch ``x`` (an ensemble member: its channels, at its size)."""
        if self.member is not None and isinstance(ensemble, ProbabilityEnsemble):
            x = ensemble.member_input(self.member, x)
        return np.ascontiguousarray(x.float().numpy())


def parts(model: nn.Module, in_channels: int, size: tuple[int, int]) -> list[Part]:
    """The graphs a network exports as: one per ensemble member, else one."""
    if isinstance(model, ProbabilityEnsemble):
        return [Part(f"member{i}", net, (len(model.channels[i]), *(model.sizes[i] or size)), i)
                for i, net in enumerate(model.members)]
    return [Part("network", model, (in_channels, *size))]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' deprecation notes and progress prints stay out of the user's terminal."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)  # ONNX Runtime's quantizer logs a line per tensor on the root logger
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def export_onnx(part: Part, path: Path) -> Path:
    """``part`` as an ONNX file (float32, any batch size), written to ``path``."""
    dummy = torch.zeros(1, *part.input_shape)
    part.net.eval()
    with _quiet(), torch.no_grad():
        torch.onnx.export(part.net, (dummy,), str(path), input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
    return path


def onnx_to_openvino(onnx_path: Path, xml_path: Path, calibration: list[np.ndarray] | None = None,
                     weights_only: bool = False) -> list[Path]:
    """The ONNX graph as OpenVINO IR (float32 weights), int8-quantized by NNCF on ``calibration`` batches when
    given, or (``weights_only``) with its weights stored as int8 (NNCF weight compression: asymmetric, one scale
    and zero point per output channel; activations stay float32, no calibration). Returns the IR's files, its XML
    gzipped (``NAME.xml.gz``, ``NAME.bin``)."""
    import openvino as ov

    with _quiet():
        model = ov.convert_model(str(onnx_path))
        if weights_only:
            import nncf

            model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
        elif calibration is not None:
            import nncf

            # asymmetric activations: PReLU / InstanceNorm outputs are not one-signed (NNCF's "mixed" preset)
            model = nncf.quantize(model, nncf.Dataset(calibration), subset_size=len(calibration),
                                  preset=nncf.QuantizationPreset.MIXED)
        ov.save_model(model, str(xml_path), compress_to_fp16=False)
    gz = xml_path.with_name(xml_path.name + ".gz")  # read back by bundle.runtime; mtime 0: the same bytes each time
    with gz.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as out:
        out.write(xml_path.read_bytes())
    xml_path.unlink()
    return [gz, xml_path.with_suffix(".bin")]


def quantize_onnx(onnx_path: Path, out_path: Path, calibration: list[np.ndarray]) -> Path:
    """The ONNX graph int8-quantized by ONNX Runtime (static, QDQ, per-channel weights) on ``calibration``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"x": batch}

    with _quiet():
        quantize_static(str(onnx_path), str(out_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return out_path


def write_graphs(model: nn.Module, in_channels: int, size: tuple[int, int], runtime: str, folder: Path,
                 calibration: torch.Tensor | None = None, weights_only: bool = False) -> list[str]:
    """Export every part of ``model`` for ``runtime`` (``onnx`` or ``openvino``) into ``folder``; int8 when
    ``calibration`` (a batch of real network inputs) is given, int8 weights only with ``weights_only``
    (OpenVINO). Returns the graph file names, in member order."""
    if runtime not in ("onnx", "openvino"):
        raise TumorscopeError(f"unknown export format {runtime!r} (choose onnx or openvino)")
    graphs = []
    scratch = folder / ".onnx"
    scratch.mkdir(parents=True, exist_ok=True)
    for part in parts(model, in_channels, size):
        calib = None if calibration is None else [part.feed(model, calibration[i : i + 1])
                                                  for i in range(len(calibration))]
        onnx_path = export_onnx(part, (folder if runtime == "onnx" and calib is None else scratch) / f"{part.name}.onnx")
        if runtime == "openvino":
            graphs.append(onnx_to_openvino(onnx_path, folder / f"{part.name}.xml", calib, weights_only)[0].name)
        elif calib is not None:
            graphs.append(quantize_onnx(onnx_path, folder / f"{part.name}.onnx", calib).name)
        else:
            graphs.append(onnx_path.name)
    for leftover in scratch.iterdir():
        leftover.unlink()
    scratch.rmdir()
    return graphs
