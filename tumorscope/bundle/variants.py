"""Exported variants of a bundle's network (``tumorscope export``): ``variants/<name>/`` folders plus
``variants.json``, which records for each variant its graph files (with their SHA-256), how it was verified
against the float32 PyTorch network, and whether it passed. Only a passed variant whose files and source
weights still match is ever run (:mod:`tumorscope.bundle.runtime`).

Names are ``<runtime>-<precision>``: ``openvino-int8``, ``openvino-int8w``, ``openvino-fp32``, ``onnx-int8``,
``onnx-fp32``. ``int8``: int8 weights and activations (calibrated); ``int8w``: int8 weights, float32 activations
(OpenVINO only: NNCF weight compression, no calibration).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tumorscope.atomic import atomic_path
from tumorscope.digest import file_digest
from tumorscope.errors import TumorscopeError

VARIANTS_FILE = "variants.json"
VARIANTS_DIR = "variants"
RUNTIMES = ("openvino", "onnx")
# the order predict tries verified variants in: fastest first (docs/runtime.md measures it)
PREFERENCE = ("openvino-int8", "openvino-int8w", "openvino-fp32", "onnx-int8", "onnx-fp32")
RUNTIME_CHOICES = ("auto", "pytorch", "openvino", "onnx", *PREFERENCE)  # predict --runtime / TUMORSCOPE_RUNTIME
CARD_HEADING = "## Exported runtimes (tumorscope export)"


def variant_name(runtime: str, int8: bool, weights_only: bool = False) -> str:
    return f"{runtime}-{precision(int8, weights_only)}"


def precision(int8: bool, weights_only: bool = False) -> str:
    """``int8w`` (int8 weights only), ``int8`` (weights and activations) or ``fp32``."""
    return "int8w" if weights_only else "int8" if int8 else "fp32"


def read_variants(bundle_path: Path) -> dict[str, dict[str, Any]]:
    """The ``variants`` table of ``variants.json`` (empty when the bundle has none); damaged: TumorscopeError."""
    path = bundle_path / VARIANTS_FILE
    if not path.exists():
        return {}
    try:
        table = json.loads(path.read_text())["variants"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TumorscopeError(f"damaged variants file ({exc})", path) from exc
    if not isinstance(table, dict):
        raise TumorscopeError("damaged variants file (variants is not a table)", path)
    return table


def usable(bundle_path: Path, name: str, record: dict[str, Any], weights_sha256: str | None) -> str | None:
    """Why variant ``name`` may not run (None: it may): not verified, made from other weights, files changed."""
    if not record.get("passed"):
        return "failed its verification"
    if weights_sha256 and record.get("weights_sha256") != weights_sha256:
        return "was exported from other weights"
    folder = bundle_path / VARIANTS_DIR / name
    for file, digest in record.get("files", {}).items():
        if not (folder / file).is_file() or file_digest(folder / file, "sha256") != digest:
            return f"file {file} is missing or changed"
    return None


def write_variant_record(bundle_path: Path, name: str, record: dict[str, Any]) -> None:
    """Add or replace one variant's record in ``variants.json`` (atomically) and in the card's section."""
    table = read_variants(bundle_path) | {name: record}
    with atomic_path(bundle_path / VARIANTS_FILE) as tmp:
        tmp.write_text(json.dumps({"format_version": 1, "variants": dict(sorted(table.items()))}, indent=2) + "\n")
    card = bundle_path / "card.md"
    text = card.read_text() if card.exists() else ""
    with atomic_path(card) as tmp:
        tmp.write_text(with_card_section(text, table))


def with_card_section(card: str, table: dict[str, dict[str, Any]]) -> str:
    """The card with its exported-runtimes section (re)written from ``table``, at the end."""
    head, sep, rest = card.partition(CARD_HEADING)
    if sep:  # drop the old section up to the next heading of the same level
        nxt = rest.find("\n## ")
        head = head + (rest[nxt + 1:] if nxt >= 0 else "")
    lines = [CARD_HEADING, "",
             "Each variant was checked against the float32 PyTorch network when it was made; predict runs the "
             "fastest that passed (`--runtime` / `TUMORSCOPE_RUNTIME` choose; docs/runtime.md).", "",
             "| variant | verified on | result | passed | size |", "|---|---|---|---|---|"]
    for name, rec in sorted(table.items()):
        ver = rec.get("verification", {})
        lines.append(f"| {name} | {ver.get('data', '?')} | {ver.get('summary', '?')} | "
                     f"{'yes' if rec.get('passed') else 'no (not used)'} | {rec.get('size_mb', '?')} MB |")
    commands = sorted({rec["command"] for rec in table.values() if rec.get("command")})
    lines += ["", "Made with: " + "; ".join(f"`{c}`" for c in commands) if commands else ""]
    return head.rstrip() + "\n\n" + "\n".join(lines).rstrip() + "\n"
