"""Markup pieces of the report: tables, numbers, warnings and document cards.

Every value from the data or the pipeline file goes through ``esc`` where it enters the
markup; a table cell is escaped unless it is ``Raw`` (markup assembled here from
escaped parts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .svg import esc, fmt_int

SHOW_CHARS = 2_500  # characters of a sample document shown (the rest is summarised)


class Raw:
    """Markup that was assembled from escaped parts (so ``table`` does not escape it twice)."""

    def __init__(self, html: str) -> None:
        self.html = html


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """A table; the first ``left`` columns are left-aligned text."""
    def cell(i: int, v: Any, tag: str) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{v.html if isinstance(v, Raw) else esc(v)}</{tag}>"
    h = "".join(cell(i, v, "th") for i, v in enumerate(head))
    b = "".join("<tr>" + "".join(cell(i, v, "td") for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def warn(text: str) -> str:
    return f'<p class="warn">{esc(text)}</p>'


def needs(file: str, message: str) -> str:
    """What a section shows in its place when a file it needs could not be read."""
    return warn(f"This part needs {file}, which could not be read: {message}")


def compact(n: float) -> str:
    n = float(n)
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}".replace(".0" + unit, unit)
    return f"{int(n):,}"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else ""


def value_text(value: Any, limit: int = 120, depth: int = 3) -> str:
    """A rule's measured value, short: 4 significant digits, lists joined (3 levels deep at
    most), long text cut."""
    if isinstance(value, bool) or value is None:
        text = str(value)
    elif isinstance(value, float):
        text = f"{value:.4g}" if math.isfinite(value) else str(value)
    elif isinstance(value, (list, tuple, dict)) and depth <= 0:
        text = "…"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(value_text(v, limit, depth - 1) for v in value[:8]) + (
            f" … (+{len(value) - 8})" if len(value) > 8 else "")
    elif isinstance(value, dict):
        text = ", ".join(f"{k}={value_text(v, limit, depth - 1)}" for k, v in list(value.items())[:8])
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(v: Any, default: int) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else default


def doc(rec: dict[str, Any], extra: str = "") -> str:
    """One document as a closed ``<details>``: source, id, size and tags; the text inside."""
    text = str(rec.get("text", ""))
    meta = rec.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    tags = [f"{k} {value_text(v, 80)}" for k, v in meta.items() if k in ("lang", "lang_score", "quality", "url")]
    chars = max(_int(rec.get("chars"), len(text)), len(text))
    shown = text[:SHOW_CHARS]
    more = f"\n\n[… {chars - len(shown):,} more characters]" if chars > len(shown) else ""
    return (f'<details><summary>{extra}<span class="tag">{esc(rec.get("source", ""))}</span>{esc(rec.get("id", ""))} '
            f'<span class="muted small">{esc(fmt_int(chars))} chars'
            f'{"".join(" · " + esc(t) for t in tags)}</span></summary><pre>{esc(shown)}{esc(more)}</pre></details>')
