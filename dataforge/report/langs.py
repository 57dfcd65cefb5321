"""The funnel split by language: documents per language (``meta.lang``) after each stage.

Every stage counts ``lang_out.<lang>`` per source for the documents it passes on that
carry ``meta.lang`` (set by ``langid``, or by the input). As in the document funnel, a
stage limited by ``sources:`` passes the other sources through unchanged, so their
languages carry over. Rows start at the first stage that counted a language; documents
with no ``meta.lang`` (code, LaTeX, sources langid does not run on) are counted apart.

``language_losses`` are the run's own warnings (``stats.json``: a stage that dropped more
than ``language_loss_warning`` of a language), shown as the run wrote them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..stats import LANG_IN, LANG_OUT
from .data import RunData, stream_stages


@dataclass
class LangRow:
    label: str
    langs: dict[str, int]  # documents per language after this stage
    none: int  # documents after this stage with no meta.lang
    lang_in: dict[str, int]  # documents per language into this stage (the sources it ran on)


def language_funnel(run: RunData) -> list[LangRow]:
    """Documents per language after each streaming stage (see the module docstring)."""
    sources = run.sources
    state: dict[str, Counter[str]] = {s: Counter() for s in sources}
    docs = dict.fromkeys(sources, 0)
    rows: list[LangRow] = []
    streaming, _ = stream_stages(run)
    for label, applies in streaming:
        per = run.stats.counts[label]
        into: Counter[str] = Counter()
        for s in applies:
            keys = per[s]
            docs[s] = int(keys.get("docs_out", 0))
            state[s] = Counter({k[len(LANG_OUT):]: int(v) for k, v in keys.items() if k.startswith(LANG_OUT) and v})
            into.update({k[len(LANG_IN):]: int(v) for k, v in keys.items() if k.startswith(LANG_IN) and v})
        if not rows and not any(state.values()):
            continue
        total: Counter[str] = Counter()
        for s in sources:
            total.update(state[s])
        rows.append(LangRow(label, dict(total), max(0, sum(docs.values()) - sum(total.values())), dict(into)))
    return rows


def first_seen(rows: list[LangRow]) -> dict[str, int]:
    """Each language's documents where it first appears (into or out of a stage), so a
    language a stage dropped entirely still has its column."""
    first: dict[str, int] = {}
    for r in rows:
        for lang in sorted(set(r.lang_in) | set(r.langs)):
            first.setdefault(lang, max(r.lang_in.get(lang, 0), r.langs.get(lang, 0)))
    return first


def top_languages(rows: list[LangRow], n: int = 8) -> list[str]:
    """The ``n`` languages with the most documents where they first appear (ties by name)."""
    return [lang for lang, _ in sorted(first_seen(rows).items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def language_losses(run: RunData) -> list[dict[str, Any]]:
    """The run's language-loss warnings (``stats.json``), checked when the file was read."""
    losses = run.stats.notes.get("language_losses")
    return [x for x in losses if isinstance(x, dict)] if isinstance(losses, list) else []


def loss_text(x: dict[str, Any]) -> str:
    """One warning in a line: stage, language, share and count."""
    return (f"{x['stage']} dropped {x['dropped_share']:.0%} of the '{x['lang']}' documents "
            f"({x['docs_in'] - x['kept']:,} of {x['docs_in']:,})")
