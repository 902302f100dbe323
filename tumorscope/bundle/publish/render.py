"""Rendering model cards from Jinja2 templates (``templates/*.md.j2``).

Escaping, chosen for Markdown: HTML autoescaping (``&lt;``) is right for HTML but wrong here - inside code
blocks and code spans (the training commands) entities are shown literally, and ``tumorscope models show``
prints the card raw in a terminal. So the environment escapes for Markdown instead, by default: every value a
template prints passes through :func:`escape_markdown` (HTML tags, links, code spans and table cells cannot be
opened by a value, e.g. a class name or an ``--extra`` label) unless the code that built it marked it trusted
with :class:`markupsafe.Markup` (pre-formatted tables, command blocks, the project's own SOURCE.md lines).
Undefined names are errors, so a template can never silently print an empty value.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

_ACTIVE = re.compile(r"([\\`<>\[\]|])")


def escape_markdown(value: Any) -> Any:
    """``value`` as literal Markdown text (a :class:`Markup` value, and anything not a str, unchanged)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return _ACTIVE.sub(r"\\\1", value)


def trusted(text: str) -> Markup:
    """Text that the publishing code built itself (Markdown already), printed as is."""
    return Markup(text)


def lines(items: list[str]) -> Markup:
    """Trusted lines, one per line."""
    return Markup("\n".join(items))


@cache
def environment() -> Environment:
    return Environment(loader=PackageLoader("tumorscope.bundle.publish", "templates"), autoescape=False,
                       finalize=escape_markdown, undefined=StrictUndefined, keep_trailing_newline=True)


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
