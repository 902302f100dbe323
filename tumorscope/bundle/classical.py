"""Classical-model bundles: ``config.json`` (with a ``classical`` section: the feature extraction settings, the
feature columns, the target) + ``pipeline.joblib`` (the fitted scikit-learn Pipeline, its SHA-256 in the config
as ``weights_sha256``, checked before it is unpickled) + ``card.md``.

joblib (pickle) runs code on load: the checksum guards against a damaged or swapped file, not against a bundle
from someone you do not trust - load those only from their source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tumorscope.atomic import atomic_path
from tumorscope.bundle.weights import PIPELINE_FILE
from tumorscope.digest import file_digest
from tumorscope.errors import TumorscopeError
from tumorscope.options.train import CLASSICAL_MODELS


def is_classical(model: str) -> bool:
    """Whether ``model`` (a ``--model`` value) names a classical estimator."""
    return model in CLASSICAL_MODELS


def save_classical_bundle(out: str | Path, pipeline: Any, config: dict[str, Any], card: str | None = None) -> Path:
    """Write the bundle folder atomically (config checked by the bundle schema); returns its path."""
    import joblib

    from tumorscope.bundle.schema import FORMAT_VERSION, validate_config

    out = Path(out)
    cfg = {k: v for k, v in config.items() if k != "weights_sha256"} | {"format_version": FORMAT_VERSION}
    if "classical" not in cfg:
        raise ValueError("a classical bundle's config needs its 'classical' section")
    validate_config(cfg, out / "config.json")
    with atomic_path(out) as tmp:
        tmp.mkdir()
        joblib.dump(pipeline, tmp / PIPELINE_FILE, compress=3)
        cfg["weights_sha256"] = file_digest(tmp / PIPELINE_FILE, "sha256")
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        if card:
            (tmp / "card.md").write_text(card)
    return out


def load_pipeline(path: Path, sha256: str | None) -> Any:
    """The fitted Pipeline in ``path`` (a pipeline.joblib), after checking its checksum."""
    import joblib

    if sha256 and file_digest(path, "sha256") != sha256:
        raise TumorscopeError(f"{path.name} does not match the checksum in config.json (corrupt or edited)", path)
    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - an unreadable pipeline file is the user's file problem
        raise TumorscopeError(f"cannot read the fitted pipeline ({type(exc).__name__}: {exc})", path) from exc
