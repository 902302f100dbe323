"""Which PACS series ``pacs watch`` takes: ``--filter`` rules on a series' Modality, SeriesDescription,
ImageType, BodyPartExamined and SliceThickness (the attributes MONAI Deploy's series selector matches on).

A rule is ``KEY OP VALUE``. ``=`` and ``!=`` compare without case; ``|`` separates alternatives
(``Modality=CT|MR``); on SeriesDescription ``=`` is a shell-style pattern (``SeriesDescription=*flair*``); on
ImageType it asks for every listed value (``ImageType=ORIGINAL\\PRIMARY``). ``~`` searches a regular expression
(``SeriesDescription~t2.*flair``). SliceThickness takes ``< <= > >= =`` with a number in mm. All rules must hold;
a series missing an attribute that a rule asks about is not taken. Whatever the rules, only image series the
readers take (CT and MR Image Storage) are candidates: SEG, SR and secondary captures, ours included, never are.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tumorscope.errors import TumorscopeError

KEYS = ("Modality", "SeriesDescription", "ImageType", "BodyPartExamined", "SliceThickness")
IMAGE_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.2": "CT Image Storage", "1.2.840.10008.5.1.4.1.1.4": "MR Image Storage"}
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "=": operator.eq}
_RULE = re.compile(r"^\s*([A-Za-z]+)\s*(!=|<=|>=|=|~|<|>)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Rule:
    """One ``--filter`` rule; :func:`parse_rule` makes it from text."""

    key: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"

    def holds(self, attrs: dict[str, Any]) -> bool:
        have = attrs.get(self.key)
        if have is None or have == "" or have == []:
            return False
        if self.key == "SliceThickness":
            return _NUMERIC[self.op](float(have), float(self.value))
        if self.op == "~":
            return re.search(self.value, _text(have), flags=re.IGNORECASE) is not None
        hit = any(self._equal(have, alt.strip()) for alt in self.value.split("|"))
        return hit if self.op == "=" else not hit

    def _equal(self, have: Any, want: str) -> bool:
        if self.key == "ImageType":
            values = {str(v).upper() for v in (have if isinstance(have, list | tuple) else str(have).split("\\"))}
            return all(w.strip().upper() in values for w in want.split("\\") if w.strip())
        if self.key == "SeriesDescription":
            return fnmatch.fnmatch(_text(have).lower(), want.lower())
        return _text(have).upper() == want.upper()


def _text(value: Any) -> str:
    return "\\".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def parse_rule(text: str) -> Rule:
    """A rule from ``--filter`` text; one clear error for a malformed one."""
    found = _RULE.match(text)
    if not found or not found.group(3):
        raise TumorscopeError(f"not a series filter (want KEY=VALUE, KEY!=VALUE, KEY~REGEX or "
                              f"SliceThickness<=MM): {text!r}")
    key, op, value = found.groups()
    canonical = {k.lower(): k for k in KEYS}.get(key.lower())
    if canonical is None:
        raise TumorscopeError(f"cannot filter series on {key!r} (filters take {', '.join(KEYS)})")
    if canonical == "SliceThickness":
        if op not in _NUMERIC:
            raise TumorscopeError(f"SliceThickness takes <, <=, >, >= or = with a number: {text!r}")
        try:
            float(value)
        except ValueError:
            raise TumorscopeError(f"SliceThickness needs a number of mm: {text!r}") from None
    elif op not in ("=", "!=", "~"):
        raise TumorscopeError(f"{canonical} takes =, != or ~ (numbers compare only on SliceThickness): {text!r}")
    if op == "~":
        try:
            re.compile(value)
        except re.error as exc:
            raise TumorscopeError(f"not a regular expression in {text!r}: {exc}") from None
    return Rule(canonical, op, value)


def server_filters(rules: Sequence[Rule]) -> dict[str, str]:
    """The rules a QIDO-RS search can apply itself (one exact Modality), so fewer series come back."""
    for rule in rules:
        if rule.key == "Modality" and rule.op == "=" and "|" not in rule.value:
            return {"Modality": rule.value.upper()}
    return {}


def rejection(rules: Sequence[Rule], attrs: dict[str, Any]) -> str | None:
    """Why a series with ``attrs`` (the keys above and ``SOPClassUID``) is not taken, or None when it is."""
    sop = str(attrs.get("SOPClassUID") or "")
    if sop not in IMAGE_SOP_CLASSES:
        return f"not a CT or MR image series (SOP class {sop or 'unknown'})"
    for rule in rules:
        if not rule.holds(attrs):
            return f"does not match {rule}"
    return None
