"""The hyperparameter-search section of the HTML report and its figures, from a ``tumorscope tune`` folder's
``tune_summary.json``: the best options, the optimisation history, the parameter importances, the trials."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError
from tumorscope.report.html import esc, figure, table

TUNE_SUMMARY = "tune_summary.json"
TUNE_SCHEMA = "tumorscope-tune/1"


def read_tune(folder: Path) -> dict[str, Any]:
    """A tune folder's summary (refused, in one line, when the folder holds none)."""
    path = folder / TUNE_SUMMARY if folder.is_dir() else folder
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TumorscopeError(f"not a `tumorscope tune` folder ({exc})", path) from None
    if not isinstance(data, dict) or data.get("schema") != TUNE_SCHEMA:
        raise TumorscopeError("not a `tumorscope tune` summary", path)
    return data


def _done(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in summary["trials"] if t["state"] == "COMPLETE" and t["value"] is not None]


def history_plot(summary: dict[str, Any], path: Path) -> None:
    """Each finished trial's score and the best so far, by trial number."""
    from tumorscope.report.plots import plt, save_figure

    done = _done(summary)
    better = max if summary["direction"] == "maximize" else min
    best, running = [], math.nan
    for t in done:
        running = t["value"] if math.isnan(running) else better(running, t["value"])
        best.append(running)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot([t["number"] for t in done], [t["value"] for t in done], "o", alpha=0.7, label="trial")
    ax.step([t["number"] for t in done], best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(summary["metric"])
    ax.set_title(f"optimisation history ({summary['search']} search)")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def importance_plot(summary: dict[str, Any], path: Path) -> None:
    """Each searched option's share of the score's variance (Optuna's fANOVA importance)."""
    from tumorscope.report.plots import plt, save_figure

    items = sorted(summary["importances"].items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(items)))
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.set_xlabel(f"importance for {summary['metric']} (fANOVA)")
    ax.set_xlim(0, 1)
    fig.tight_layout()
    save_figure(fig, path)


def _folds(summary: dict[str, Any]) -> str:
    used, k = summary.get("folds_per_trial") or summary["inner_folds"], summary["inner_folds"]
    return str(k) if used == k else f"{used} of {k}"


def _value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def tune_section(summary: dict[str, Any], source: str) -> str:
    """One ``<section>``: the best trial's options and score, the two figures, the best trials."""
    done = _done(summary)
    parts = [f'<section class="tune"><h2>Hyperparameter search</h2><p class="note">from <code>{esc(source)}'
             f"</code>: {esc(summary['search'])} search, {len(summary['trials'])} trial(s), {len(done)} finished; "
             f"score: {esc(summary['metric'])} ({esc(summary['direction'])}) on {_folds(summary)} patient-grouped "
             "validation folds of the training patients (test patients never used)</p>"]
    best = summary.get("best")
    if not best:
        return "".join(parts) + '<p class="missing">Not shown: no trial has finished yet</p></section>'
    rows: list[list[object]] = [[k, _value(v)] for k, v in best["params"].items()]
    parts += [f"<h3>Best trial: #{best['number']}, {esc(summary['metric'])} = {best['value']:.4f}</h3>",
              table(["option", "value"], rows),
              f'<p class="note">train it: <code>{esc(summary.get("command", ""))}</code></p>']
    parts.append(figure(lambda p: history_plot(summary, p), "optimisation history"))
    if summary.get("importances"):
        parts.append(figure(lambda p: importance_plot(summary, p), "parameter importance"))
    else:
        parts.append('<p class="missing">Not shown: parameter importance (needs two finished trials with different scores)</p>')
    top = sorted(done, key=lambda t: t["value"], reverse=summary["direction"] == "maximize")[:10]
    names = list(best["params"])
    parts += ["<h3>Best trials</h3>", table(["trial", summary["metric"], *names], [
        [t["number"], float(t["value"]), *(_value(t["params"].get(n, "")) for n in names)] for t in top])]
    return "".join(parts) + "</section>"
