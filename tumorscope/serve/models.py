"""The models the service runs: the bundled zoo plus bundles an admin installed into ``DATA_DIR/models``.

Each bundle is loaded (checksum verified) once and kept with its network, so requests never re-read weights.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from tumorscope.bundle import Bundle, load_bundle
from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.version import (  # re-exported: serve imports them from here
    model_version,
    weights_sha256,
)
from tumorscope.errors import TumorscopeError
from tumorscope.serve.errors import NotFound


def describe(bundle: Bundle, source: str) -> dict[str, Any]:
    """What ``GET /v1/models`` says of a bundle: task, inputs, cross-validated metrics, version."""
    pre = bundle.config["preprocessing"]
    return {
        "name": bundle.name,
        "source": source,
        "task": bundle.task,
        "classes": bundle.classes,
        "version": model_version(bundle),
        "weights_sha256": weights_sha256(bundle),
        "inputs": {"channels": pre.get("channels"), "size": pre.get("size"), "modality": bundle.config.get("modality"),
                   "accepts": ["png", "jpeg", "tiff", "bmp", "nifti", "dicom", "zip"]},
        "metrics": bundle.config.get("headline_metrics", {}),
        "postprocessing": bundle.config.get("postprocessing") if bundle.task == "segmentation" else None,
    }


class ModelStore:
    """Bundles by name, loaded once. Installed bundles shadow nothing: a name may exist only once."""

    def __init__(self, installed: Path) -> None:
        self.installed = installed
        self._loaded: dict[str, Bundle] = {}
        self._lock = threading.Lock()

    def names(self) -> dict[str, str]:
        """name -> "bundled" | "installed"."""
        found = {p.name: "bundled" for p in sorted(ZOO.iterdir()) if (p / "config.json").exists()}
        if self.installed.is_dir():
            for p in sorted(self.installed.iterdir()):
                if (p / "config.json").exists() and not p.name.startswith("."):
                    found.setdefault(p.name, "installed")
        return found

    def folder(self, name: str) -> Path:
        """The bundle folder of a model (not loaded) or NotFound."""
        source = self.names().get(name)
        if source is None:
            raise NotFound(f"no model {name!r} (models: {', '.join(self.names())})")
        return ZOO / name if source == "bundled" else self.installed / name

    def get(self, name: str) -> Bundle:
        """The loaded bundle (network built) or NotFound."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            path = self.folder(name)
            try:
                bundle = load_bundle(path)
                if bundle.name != name:  # a trained bundle names its run; here it goes by its installed name
                    bundle = replace(bundle, config={**bundle.config, "name": name})
                _ = bundle.model
            except TumorscopeError as exc:
                raise NotFound(f"model {name!r} cannot be loaded: {exc.problem}") from exc
            self._loaded[name] = bundle
            return bundle

    def forget(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)

    def catalogue(self) -> list[dict[str, Any]]:
        out = []
        for name, source in self.names().items():
            try:
                out.append(describe(self.get(name), source))
            except NotFound:
                continue  # a damaged installed bundle is listed nowhere rather than failing the list
        return out
