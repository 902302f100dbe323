"""How a bundle names its version to the outside (the service, DICOM outputs): its own ``version`` or a weights hash."""

from __future__ import annotations

from tumorscope.bundle.bundle import Bundle, sha256


def model_version(bundle: Bundle) -> str:
    """The bundle's ``version`` when it names one, else the first 12 hex digits of its weights' SHA-256."""
    return str(bundle.config.get("version") or f"sha256:{weights_sha256(bundle)[:12]}")


def weights_sha256(bundle: Bundle) -> str:
    return str(bundle.config.get("weights_sha256") or sha256(bundle.weights_path))
