"""Bundles on disk: ``config.json`` + ``weights.safetensors`` (+ ``card.md``, + ``reference.json``: the drift
reference, :mod:`tumorscope.bundle.reference`), checked on load: the config
against the bundle schema (:mod:`tumorscope.bundle.schema`), the weights against their SHA-256.

A bundle is what predict, evaluate, explain and serve load; it carries its preprocessing, so a model can
never be run with the wrong normalisation. Bundles shipped with tumorscope live in ``bundle/zoo/<name>/``
and resolve by name (``--model lgg-flair-seg``). Bundles made before safetensors (``weights.pt``) still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tumorscope.atomic import atomic_path
from tumorscope.bundle.postprocess import PostProcess
from tumorscope.bundle.reference import REFERENCE_FILE, read_reference, write_reference_file
from tumorscope.bundle.schema import FORMAT_VERSION, validate_config
from tumorscope.bundle.weights import (  # re-exported: train/ and tests import them from here
    WEIGHTS_FILE,
    as_stored,
    decode_weights,
    encode_weights,
    find_weights,
    read_weights,
    smallest_dtype_that_fits,
    write_weights,
)
from tumorscope.digest import file_digest
from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.pipeline import Preprocessor

ZOO = Path(__file__).parent / "zoo"

if TYPE_CHECKING:  # torch loads with the PyTorch network (Bundle.model): an exported variant runs without it
    import torch

__all__ = [
    "FORMAT_VERSION", "ZOO", "Bundle", "as_stored", "decode_weights", "encode_weights", "load_bundle",
    "save_bundle", "sha256", "smallest_dtype_that_fits", "zoo_models",
]


@dataclass
class Bundle:
    path: Path
    config: dict[str, Any]
    _model: torch.nn.Module | None = field(default=None, repr=False)
    runtime: str | None = None  # which engine runs predict (bundle.runtime.CHOICES); None: TUMORSCOPE_RUNTIME, else auto
    _network: tuple[str, Any] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.config.get("name", self.path.name))

    @property
    def task(self) -> str:
        return str(self.config["task"])

    @property
    def classes(self) -> list[str]:
        return list(self.config.get("classes", []))

    @property
    def preprocessor(self) -> Preprocessor:
        return Preprocessor.from_dict(self.config["preprocessing"])

    @property
    def postprocess(self) -> PostProcess:
        return PostProcess.from_dict(self.config.get("postprocessing", {}))

    @property
    def tta(self) -> bool:
        """Classification: average the probabilities of the image and its left-right mirror (chosen on
        validation images when the bundle was made; ``predict/evaluate --tta/--no-tta`` override it)."""
        return bool(self.config.get("inference", {}).get("tta", False))

    @property
    def card(self) -> str:
        card = self.path / "card.md"
        return card.read_text() if card.exists() else ""

    @cached_property
    def reference(self) -> dict[str, Any] | None:
        """The drift reference (``reference.json``), None when the bundle has none; damaged: TumorscopeError."""
        return read_reference(self.path)

    @property
    def weights_path(self) -> Path:
        """The weights file: ``weights.safetensors``, or ``weights.pt`` for a bundle made before it."""
        found = find_weights(self.path)
        if found is None:
            raise TumorscopeError("bundle has no weights.safetensors or weights.pt", self.path)
        return found

    @property
    def is_classical(self) -> bool:
        """A scikit-learn pipeline on radiomics features (bundle/classical.py), not a network."""
        return "classical" in self.config

    @cached_property
    def pipeline(self) -> Any:
        """A classical bundle's fitted scikit-learn Pipeline (checksum checked, loaded on first use)."""
        from tumorscope.bundle.classical import load_pipeline

        if not self.is_classical:
            raise TumorscopeError(f"model {self.name!r} is a network, not a classical pipeline", self.path)
        return load_pipeline(self.weights_path, self.config.get("weights_sha256"))

    @property
    def model(self) -> torch.nn.Module:
        """The network with its weights, in eval mode (built on first use)."""
        if self.is_classical:
            raise TumorscopeError(f"model {self.name!r} is a classical pipeline on radiomics features: this step "
                                  "needs a network (evaluate and predict run it)", self.path)
        if self._model is None:
            from tumorscope.models import build_model

            spec = self.config["model"]
            net = build_model(spec["name"], spec["in_channels"], spec["out_channels"], **spec.get("options", {}))
            net.load_state_dict(decode_weights(read_weights(self.weights_path)))
            net.eval()
            self._model = net
        return self._model

    @property
    def network(self) -> Any:
        """What predict runs: the fastest verified exported variant here (a
        :class:`~tumorscope.bundle.runtime.VariantNetwork`, numpy in and out, no torch), else :attr:`model`
        (:func:`tumorscope.bundle.runtime.choose`; chosen on first use)."""
        return self._chosen()[1]

    @property
    def runtime_name(self) -> str:
        """The variant :attr:`network` runs (``openvino-fp32``, ...) or ``pytorch``."""
        return self._chosen()[0]

    def _chosen(self) -> tuple[str, Any]:
        if self._network is None:
            from tumorscope.bundle.runtime import choose

            self._network = choose(self, self.runtime)
        return self._network


def save_bundle(
    out: str | Path,
    model: torch.nn.Module,
    config: dict[str, Any],
    card: str | None = None,
    weights_dtype: str = "float32",
    reference: dict[str, Any] | None = None,
) -> Bundle:
    """Write a bundle folder atomically. ``config`` needs ``task``, ``model`` ({name, in_channels,
    out_channels, options}) and ``preprocessing`` (the schema); ``weights_dtype`` (:func:`encode_weights`)
    shrinks the weights file; ``reference`` (:func:`~tumorscope.bundle.reference.build_reference`) is written
    as ``reference.json``."""
    out = Path(out)
    cfg = {k: v for k, v in config.items() if k not in ("weights_dtype", "weights_sha256")}
    cfg["format_version"] = FORMAT_VERSION
    if weights_dtype != "float32":
        cfg["weights_dtype"] = weights_dtype
    validate_config(cfg, out / "config.json")
    state = encode_weights(model, weights_dtype)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        write_weights(state, tmp / WEIGHTS_FILE)
        cfg["weights_sha256"] = sha256(tmp / WEIGHTS_FILE)
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        if card:
            (tmp / "card.md").write_text(card)
        if reference is not None:
            write_reference_file(tmp / REFERENCE_FILE, reference)
    return Bundle(out, cfg)


def load_bundle(name_or_path: str | Path, verify: bool = True) -> Bundle:
    """A bundle from a zoo name, a bundle folder, or a training run folder (its ``bundle/``)."""
    path = _resolve(name_or_path)
    try:
        config = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as exc:
        raise TumorscopeError(f"config.json is not valid JSON ({exc})", path / "config.json") from exc
    validate_config(config, path / "config.json")
    bundle = Bundle(path, config)
    weights = bundle.weights_path
    if verify and config.get("weights_sha256") and sha256(weights) != config["weights_sha256"]:
        raise TumorscopeError(f"{weights.name} does not match the checksum in config.json (corrupt or edited)",
                              weights)
    return bundle


def zoo_models() -> list[Bundle]:
    """The bundles shipped with tumorscope."""
    if not ZOO.is_dir():
        return []
    return [load_bundle(p, verify=False) for p in sorted(ZOO.iterdir()) if (p / "config.json").exists()]


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    for cand in (p, p / "bundle"):
        if (cand / "config.json").exists() and find_weights(cand) is not None:
            return cand
    if (ZOO / str(name_or_path) / "config.json").exists():
        return ZOO / str(name_or_path)
    if p.exists():
        raise TumorscopeError("not a tumorscope bundle or run folder (no config.json + weights.safetensors)", p)
    known = ", ".join(b.name for b in zoo_models()) or "none installed"
    raise TumorscopeError(f"no such model (bundled models: {known})", p)


def sha256(path: Path) -> str:
    """The SHA-256 of a file, as ``weights_sha256`` records it."""
    return file_digest(path, "sha256")


def convert_to_safetensors(path: str | Path) -> Path:
    """Rewrite a bundle's legacy ``weights.pt`` as ``weights.safetensors`` in place: the same stored tensors
    (dtypes kept, so the model computes exactly as before), the config's checksum updated. Returns the file."""
    bundle = load_bundle(path)
    old = bundle.weights_path
    if old.name == WEIGHTS_FILE:
        return old
    new = old.with_name(WEIGHTS_FILE)
    write_weights(read_weights(old), new)
    config = bundle.config | {"weights_sha256": sha256(new)}
    with atomic_path(bundle.path / "config.json") as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n")
    old.unlink()
    return new
