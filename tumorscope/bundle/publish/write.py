"""Writing a zoo model: the bundled weights (one CV fold's model, or the recipe trained on every image),
its config with headline metrics, and its card."""

from __future__ import annotations

from pathlib import Path

from tumorscope.bundle.bundle import ZOO, load_bundle, save_bundle, smallest_dtype_that_fits
from tumorscope.bundle.publish.card import model_card
from tumorscope.bundle.publish.recipes import RECIPES
from tumorscope.errors import TumorscopeError

ZOO_LIMIT = 19 * 2**20  # the zoo's limit is 20 MiB a bundle; config, card and torch.save's framing take well under 1 MiB


def publish(name: str, cv_dir: str | Path, extras: dict[str, Path] | None = None, zoo: Path = ZOO,
            fold: int = 0, final: str | Path | None = None) -> Path:
    """Write ``zoo/<name>/`` (weights of one CV fold's model, or of ``final``: the recipe trained on every image;
    config with ``headline_metrics``, card.md, and the source bundle's drift reference, reference.json)."""
    if name not in RECIPES:
        raise TumorscopeError(f"unknown zoo model {name!r}; known: {', '.join(RECIPES)}")
    cv_dir = Path(cv_dir)
    final = Path(final) if final else None
    src = load_bundle(final or cv_dir / f"fold{fold}")
    dtype = smallest_dtype_that_fits(src.model, ZOO_LIMIT)
    card, headline = model_card(name, cv_dir, extras or {}, fold, dtype, final)
    config = {k: v for k, v in src.config.items() if k not in ("format_version", "weights_sha256")}
    config.update(name=name, headline_metrics=headline)
    out = zoo / name
    save_bundle(out, src.model, config, card=card, weights_dtype=dtype, reference=src.reference)
    return out
