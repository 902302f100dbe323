"""The schema every bundle's ``config.json`` is checked against on load and on save (in the spirit of
MONAI's bundle metadata schema): required keys, their types, allowed values, and the format version.

Keys the schema does not name are kept (runs add their own records, e.g. ``training`` details); keys it
names must be well-formed, and the sections whose every field the code reads (``postprocessing``,
``preprocessing``) may hold no key their dataclass lacks, so a typo cannot be dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tumorscope.bundle import WEIGHT_DTYPES
from tumorscope.errors import TumorscopeError

FORMAT_VERSION = 1  # the newest config layout this tumorscope reads and writes
TASKS = ("segmentation", "classification")

Check = Callable[[Any], str | None]  # a value -> the problem with it, or None


@dataclass(frozen=True)
class Key:
    """One config key: its JSON types, whether it must be present, and further checks."""

    types: tuple[type, ...]
    required: bool = False
    choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] | None = None
    check: Check | None = None
    keys: dict[str, Key] | Callable[[], dict[str, Key]] | None = None  # a dict's own schema
    closed: bool = False  # a dict with keys outside ``keys`` is an error


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "a list",
             dict: "an object", type(None): "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _is(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # JSON true/false is not a number
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def _list_of(types: tuple[type, ...], length: int | None = None, minimum: float | None = None) -> Check:
    def check(v: list[Any]) -> str | None:
        if length is not None and len(v) != length:
            return f"must hold {length} items, not {len(v)}"
        if not all(_is(x, types) for x in v):
            return f"must hold only {_type_name(types)} items"
        if minimum is not None and any(x < minimum for x in v):
            return f"items must be >= {minimum}"
        return None

    return check


def _at_least(minimum: float, maximum: float | None = None) -> Check:
    def check(v: float) -> str | None:
        if v < minimum or (maximum is not None and v > maximum):
            return f"must be >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        return None

    return check


def _version(v: int) -> str | None:
    if v > FORMAT_VERSION:
        return f"is {v}, newer than this tumorscope reads ({FORMAT_VERSION}): upgrade tumorscope"
    return None if v >= 1 else "must be >= 1"


def _sha256(v: str) -> str | None:
    return None if re.fullmatch(r"[0-9a-f]{64}", v) else "must be 64 lowercase hex digits (a SHA-256)"


def _model_names() -> tuple[str, ...]:
    from tumorscope.models.names import MODEL_NAMES
    from tumorscope.options.train import CLASSICAL_MODELS

    return MODEL_NAMES + CLASSICAL_MODELS


def _preprocessing_keys() -> dict[str, Key]:
    from tumorscope.preprocess.crop import CROPS
    from tumorscope.preprocess.enhance import METHODS as ENHANCEMENTS
    from tumorscope.preprocess.intensity import METHODS as NORMALIZATIONS
    from tumorscope.preprocess.pipeline import Preprocessor

    known = {
        "channels": Key((str,)),
        "normalization": Key((str,), choices=NORMALIZATIONS),
        "enhancement": Key((str,), choices=ENHANCEMENTS),
        "size": Key((list,), check=_list_of((int,), 2, 1)),
        "context": Key((int,), check=_at_least(0)),
        "expected_channels": Key((int, type(None))),
        "crop": Key((str,), choices=CROPS),
    }
    # every Preprocessor field is allowed (a field added there needs no schema change), nothing else
    return {f.name: known.get(f.name, Key((object,))) for f in fields(Preprocessor)}


def _postprocessing_keys() -> dict[str, Key]:
    from tumorscope.bundle.postprocess import PostProcess

    known = {
        "threshold": Key((float,), check=_at_least(0.0, 1.0)),
        "min_size": Key((int,), check=_at_least(0)),
        "fill_holes": Key((bool,)),
        "tta": Key((bool,)),
    }
    return {f.name: known.get(f.name, Key((object,))) for f in fields(PostProcess)}


MEMBER = {  # one network of an ensemble (models/ensemble.py)
    "name": Key((str,), required=True, choices=_model_names),
    "in_channels": Key((int,), required=True, check=_at_least(1)),
    "options": Key((dict,)),
    "channels": Key((list,), check=_list_of((int,), minimum=0)),
}

SCHEMA: dict[str, Key] = {
    "task": Key((str,), required=True, choices=TASKS),
    "model": Key((dict,), required=True, keys={
        "name": Key((str,), required=True, choices=_model_names),
        "in_channels": Key((int,), required=True, check=_at_least(1)),
        "out_channels": Key((int,), required=True, check=_at_least(1)),
        "options": Key((dict,), keys={"members": Key((list,))}),
    }),
    "preprocessing": Key((dict,), required=True, keys=_preprocessing_keys, closed=True),
    "name": Key((str,)),
    "classes": Key((list,), check=_list_of((str,))),
    "postprocessing": Key((dict,), keys=_postprocessing_keys, closed=True),
    "inference": Key((dict,), keys={"tta": Key((bool,))}),
    "volumetric": Key((dict,), keys={
        "patch_size": Key((list,), required=True, check=_list_of((int,), 3, 1)),
        "overlap": Key((float,), check=_at_least(0.0, 0.99)),
        "mode": Key((str,), choices=("gaussian", "constant")),
        "sw_batch_size": Key((int,), check=_at_least(1)),
    }),
    "format_version": Key((int,), check=_version),
    "weights_sha256": Key((str,), check=_sha256),
    "weights_dtype": Key((str,), choices=WEIGHT_DTYPES),
    "modality": Key((str,)),
    "training": Key((dict,)),
    "training_fingerprints": Key((dict,)),
    "headline_metrics": Key((dict,)),
    "classical": Key((dict,), keys={  # a scikit-learn pipeline on radiomics features (bundle/classical.py)
        "features": Key((dict,), required=True),
        "columns": Key((list,), required=True, check=_list_of((str,))),
        "target": Key((str,), required=True),
        "positive": Key((str, type(None))),
    }),
}


def validate_config(config: Any, path: str | Path) -> None:
    """Raise :class:`TumorscopeError` naming ``path`` (the config.json) and the first bad key. A classical bundle
    (a ``classical`` section) has no image preprocessing: its features say how its inputs are read."""
    schema = SCHEMA
    if isinstance(config, dict) and "classical" in config:
        schema = SCHEMA | {"preprocessing": Key((dict,), keys=_preprocessing_keys, closed=True)}
    _check_dict(config, schema, False, "", Path(path))
    members = config["model"].get("options", {}).get("members")
    for i, member in enumerate(members or []):
        _check_dict(member, MEMBER, False, f"model.options.members[{i}]", Path(path))


def _check_dict(value: Any, keys: dict[str, Key], closed: bool, where: str, path: Path) -> None:
    if not isinstance(value, dict):
        raise TumorscopeError(f"{where or 'the config'} must be an object, not {type(value).__name__}", path)
    for name, key in keys.items():
        dotted = f"{where}.{name}" if where else name
        if name not in value:
            if key.required:
                raise TumorscopeError(f"bundle config needs key {dotted!r}", path)
            continue
        _check_value(value[name], key, dotted, path)
    if closed and (unknown := sorted(set(value) - set(keys))):
        raise TumorscopeError(
            f"unknown key {where}.{unknown[0]!r} in the bundle config (known: {', '.join(keys)})", path)


def _check_value(v: Any, key: Key, dotted: str, path: Path) -> None:
    if object not in key.types and not _is(v, key.types):
        raise TumorscopeError(f"key {dotted!r} must be {_type_name(key.types)}, not {v!r}", path)
    choices = key.choices() if callable(key.choices) else key.choices
    if choices is not None and v not in choices:
        raise TumorscopeError(f"key {dotted!r} is {v!r}: choose from {', '.join(map(str, choices))}", path)
    if key.check is not None and (problem := key.check(v)):
        raise TumorscopeError(f"key {dotted!r} {problem}", path)
    if key.keys is not None:
        _check_dict(v, key.keys() if callable(key.keys) else key.keys, key.closed, dotted, path)
