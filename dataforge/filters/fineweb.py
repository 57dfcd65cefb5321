"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.5;
datatrove ``FineWebQualityFilter``, whose option names and defaults these are).

Rules, in datatrove's order: too few lines ending in terminal punctuation, too many
short lines, too many characters in duplicated lines, too many newlines per word.

Languages: as in ``gopher.py``, a document's language (``meta['lang']``, else the
``language:`` option) picks its word splitter and its thresholds (FineWeb-2's
``line_punct_thr`` and ``new_line_ratio``, and FineWeb-2's short-line rule off and 0.1
duplicated-line characters), unless ``per_language:`` says otherwise. Lines ending in
"。", "！" or "？" count as punctuated in every language (the terminal set covers all
scripts). Without a language the newline-per-word rule sees one "word" per unspaced
run, so CJK pages with several lines per run of text are dropped as ``list_ratio``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..document import Document
from ..lang.options import LanguageParams, LanguageRules
from .base import TextRuleFilter
from .repetition import duplicates
from .text import TERMINAL_PUNCTUATION, words


class FineWebQualityParams(LanguageParams):
    STAGE = "fineweb_quality"

    # FineWeb: drop if fewer than 12% of lines end in punctuation (datatrove default)
    line_punct_thr: float = Field(0.12, ge=0, le=1)  # a share of lines: 0..1
    # datatrove: also drop documents where no line ends in punctuation (False = drop them)
    line_punct_exclude_zero: bool = False
    # datatrove: characters that end a "punctuated" line; None = every sentence terminal
    stop_chars: tuple[str, ...] | None = None
    # FineWeb: drop if more than 67% of lines are short (<= 30 characters)
    short_line_thr: float = Field(0.67, ge=0, le=1)  # a share of lines: 0..1
    short_line_length: int = Field(30, ge=0)  # characters
    # FineWeb: drop if more than 1% of characters are in duplicated lines
    char_duplicates_ratio: float = Field(0.01, ge=0, le=1)  # a share of characters: 0..1
    # FineWeb: drop if there are more than 0.3 newlines per word (list-like pages)
    new_line_ratio: float = Field(0.3, ge=0)  # newlines per word: may exceed 1, never negative


_TERMINAL = tuple(sorted(TERMINAL_PUNCTUATION))


def fineweb_quality_reason(text: str, p: FineWebQualityParams, *, language: str | None = None) -> str | None:
    """Why FineWeb's rules drop ``text`` (words split as ``language``), or None to keep it."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "empty"
    stop = p.stop_chars if p.stop_chars is not None else _TERMINAL
    ratio = sum(1 for line in lines if line.endswith(stop)) / len(lines)
    if ratio < p.line_punct_thr and not (ratio == 0 and p.line_punct_exclude_zero):
        return "line_punct_ratio"
    if sum(1 for line in lines if len(line) <= p.short_line_length) / len(lines) > p.short_line_thr:
        return "short_line_ratio"
    chars = len(text) - text.count("\n")
    if chars and duplicates(lines)[1] / chars > p.char_duplicates_ratio:
        return "char_dup_ratio"
    n_words = len(words(text, language))
    if not n_words or text.count("\n") / n_words > p.new_line_ratio:
        return "list_ratio"
    return None


class FineWebQuality(LanguageRules[FineWebQualityParams], TextRuleFilter[FineWebQualityParams]):
    """FineWeb's line-punctuation, short-line, duplicate-line and list rules."""

    Params = FineWebQualityParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "empty": "no lines",
        "line_punct_ratio": "under `line_punct_thr` of the lines end in punctuation",
        "short_line_ratio": "more than `short_line_thr` of the lines are at most `short_line_length` characters",
        "char_dup_ratio": "repeated lines hold more than `char_duplicates_ratio` of the characters",
        "list_ratio": "newlines per word above `new_line_ratio` (a list, not prose)",
    }
    rule = staticmethod(fineweb_quality_reason)

    def reject(self, doc: Document) -> str | None:
        lang = self.language_of(doc)
        return fineweb_quality_reason(doc.text, self.params_for(lang), language=lang)
