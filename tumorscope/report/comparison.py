"""The model-comparison section of the HTML report, from the JSON ``tumorscope compare --json`` writes: the
comparison table (values with 95% CIs) and, when the comparison ran ``--tests``, the pairwise tests table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.compare import COMPARE_SCHEMA
from tumorscope.evaluate.compare_tests import TESTS_HEADER, tests_note, tests_rows
from tumorscope.report.html import esc, table


def read_comparison(path: Path) -> dict[str, Any]:
    """A ``compare --json`` file (refused, in one line, when it is anything else)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TumorscopeError(f"cannot read ({exc})", path) from exc
    if not isinstance(data, dict) or data.get("schema") != COMPARE_SCHEMA or "table" not in data:
        raise TumorscopeError("not a `tumorscope compare --json` file", path)
    return data


def comparison_section(data: dict[str, Any], source: str) -> str:
    """One ``<section>``: the runs' table, then the paired tests (or why there are none)."""
    t = data["table"]
    parts = [f'<section class="comparison"><h2>Model comparison</h2><p class="note">from <code>{esc(source)}</code>'
             f" ({len(data['runs'])} runs)</p>", table(t["header"], t["rows"]), f'<p class="note">{esc(t["note"])}</p>']
    tests = data.get("tests")
    if tests:
        rows: list[list[object]] = [list(r) for r in tests_rows(tests)]
        parts += ["<h3>Paired significance tests</h3>", table(TESTS_HEADER, rows),
                  f'<p class="note">{esc(tests_note(tests))}</p>']
    else:
        parts.append('<p class="missing">Not shown: paired tests (the comparison was made without --tests)</p>')
    return "".join(parts) + "</section>"
