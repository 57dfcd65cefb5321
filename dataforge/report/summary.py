"""What ``dataforge stats`` prints, as plain data (the CLI draws the tables; ``--json`` prints this).

Wide outputs stay readable: the funnel shows the ``MAX_SOURCES`` biggest sources and sums
the rest into one column, drop reasons are listed one per line in their stage's row, and
the language table shows the ``MAX_LANGS`` most common languages.
"""

from __future__ import annotations

from typing import Any

from ..stats import DROPPED, SKIPPED
from .contamination import contamination
from .data import FunnelRow, RunData, funnel
from .langs import language_funnel, language_losses, top_languages

MAX_SOURCES = 8  # source columns in the terminal funnel (the rest in "other")
MAX_LANGS = 8  # language columns in the terminal language table


def stage_rows(run: RunData) -> list[dict[str, Any]]:
    """One row per stage: kind, documents and bytes in and out, seconds, reasons (biggest first)."""
    out = []
    for label in run.stats.all_labels():  # mix too: no counters of its own, but a row (numbering has no gap)
        tot = run.stats.totals(label)
        reasons = sorted(((k.split(".", 1)[1] + (" (skipped)" if k.startswith(SKIPPED) else ""), int(v))
                          for k, v in tot.items() if k.startswith((DROPPED, SKIPPED)) and v),
                         key=lambda kv: (-kv[1], kv[0]))
        out.append({"stage": label, "kind": run.kind(label), "docs_in": _int(tot.get("docs_in")),
                    "docs_out": _int(tot.get("docs_out")), "bytes_in": _int(tot.get("bytes_in")),
                    "bytes_out": _int(tot.get("bytes_out")), "seconds": round(tot.get("seconds", 0.0), 3),
                    "reasons": dict(reasons)})
    return out


def _int(v: float | None) -> int | None:
    return None if v is None else int(v)


def funnel_columns(run: RunData, rows: list[FunnelRow]) -> tuple[list[str], bool]:
    """The sources shown as columns (the biggest at read), and whether an "other" column sums the rest."""
    sources = run.sources
    if len(sources) <= MAX_SOURCES + 1:
        return sources, False
    first = rows[0].docs if rows else {}
    shown = sorted(sources, key=lambda s: (-first.get(s, 0), sources.index(s)))[:MAX_SOURCES]
    return [s for s in sources if s in shown], True


def language_table(run: RunData) -> tuple[list[str], list[dict[str, Any]]]:
    """(languages shown, rows {stage, langs {lang: n}, other, none}) after each stage."""
    rows = language_funnel(run)
    langs = top_languages(rows, MAX_LANGS)
    out = []
    for r in rows:
        out.append({"stage": r.label, "langs": {lang: r.langs.get(lang, 0) for lang in langs},
                    "other": sum(n for k, n in r.langs.items() if k not in langs), "none": r.none})
    return langs, out


def stats_json(run: RunData) -> dict[str, Any]:
    """Everything ``dataforge stats`` shows, as one JSON object."""
    rows = funnel(run)
    found = contamination(run)
    return {
        "funnel": [{"stage": r.label, "docs": r.docs, "tokens": r.tokens, "tokens_exact": r.exact_tokens}
                   for r in rows],
        "stages": stage_rows(run),
        "languages": [{"stage": r.label, "docs": r.langs, "docs_in": r.lang_in, "no_language": r.none}
                      for r in language_funnel(run)],
        "language_losses": language_losses(run),
        "contamination": [b.to_json() for b in found.benchmarks],
        "problems": {**run.problems, **({"decontamination": found.damaged} if found.damaged else {})},
    }
