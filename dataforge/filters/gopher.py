"""Gopher quality and repetition filters (Rae et al. 2021, "Scaling Language Models:
Methods, Analysis & Insights from Training Gopher", appendix A1.1; arXiv:2112.11446).

Option names and defaults are datatrove's (``GopherQualityFilter``,
``GopherRepetitionFilter``, datatrove 0.10), which follow the paper; rules are checked
in datatrove's order, so a document fails with the same reason. Words come from
``text.words`` (spaCy-compatible splitting without spaCy). A threshold set to ``null``
(or 0) switches its rule off, as in datatrove.

Languages: a document's language is ``meta['lang']`` (set by ``langid``), else the
stage's ``language:`` option. Words are split the language's way (``text.words``:
dictionary segmenters for Chinese, Japanese, Korean, Thai) and thresholds and stop words
are the language's (``dataforge.lang.defaults``: FineWeb-2's published values), unless
``per_language:`` says otherwise. Documents with no language get the English rules,
unchanged (datatrove's decisions). Without a language, a run of Han/Kana characters is
one "word", so Chinese and Japanese pages fail ``short_doc`` or ``top_2_gram``, as with
datatrove's English defaults.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import ClassVar, Annotated, NamedTuple

from pydantic import Field, model_validator

from ..document import Document
from ..lang.options import LanguageParams, LanguageRules
from . import repetition as rep
from .base import TextRuleFilter
from .text import PUNCTUATION, words

_PUNCT_CHARS = "".join(sorted(PUNCTUATION))

# our reason -> datatrove's, for comparing decisions (benchmarks, conformance tests)
DATATROVE_REASON: dict[str, str] = {
    "short_doc": "gopher_short_doc",
    "long_doc": "gopher_long_doc",
    "below_avg_word_length": "gopher_below_avg_threshold",
    "above_avg_word_length": "gopher_above_avg_threshold",
    "too_many_hashes": "gopher_too_many_hashes",
    "too_many_ellipsis": "gopher_too_many_ellipsis",
    "too_many_bullets": "gopher_too_many_bullets",
    "too_many_end_ellipsis": "gopher_too_many_end_ellipsis",
    "below_alpha_threshold": "gopher_below_alpha_threshold",
    "few_stop_words": "gopher_enough_stop_words",
}


class GopherQualityParams(LanguageParams):
    STAGE = "gopher_quality"

    # Gopher A1.1: "fewer than 50 or more than 100,000 words"; datatrove defaults
    # (a count of words: not negative; a maximum under 1 would drop every document)
    min_doc_words: int | None = Field(50, ge=0)
    max_doc_words: int | None = Field(100_000, ge=1)
    # Gopher: "mean word length is outside the range of 3 to 10 characters"
    min_avg_word_length: float | None = Field(3, ge=0)
    max_avg_word_length: float | None = Field(10, gt=0)
    # Gopher: "symbol-to-word ratio greater than 0.1 for either the hash symbol or the ellipsis"
    # (symbols per word: may exceed 1, never negative)
    max_symbol_word_ratio: float | None = Field(0.1, ge=0)
    # Gopher: "more than 90% of lines starting with a bullet point" (a share of lines: 0..1)
    max_bullet_lines_ratio: float | None = Field(0.9, ge=0, le=1)
    # Gopher: "more than 30% ending with an ellipsis" (a share of lines: 0..1)
    max_ellipsis_lines_ratio: float | None = Field(0.3, ge=0, le=1)
    # Gopher: "80% of words in a document contain at least one alphabetic character" (a share: 0..1)
    max_non_alpha_words_ratio: float | None = Field(0.8, ge=0, le=1)
    # Gopher: "at least two of the following English words: the, be, to, of, and, that, have, with"
    min_stop_words: int | None = Field(2, ge=0)
    stop_words: list[str] = Field(default_factory=lambda: ["the", "be", "to", "of", "and", "that", "have", "with"])

    @model_validator(mode="after")
    def _ranges(self) -> "GopherQualityParams":
        for low, high in (("min_doc_words", "max_doc_words"), ("min_avg_word_length", "max_avg_word_length")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} ({a}) is above {high} ({b}): every document would be dropped; "
                                 f"lower {low} or raise {high}")
        return self


def gopher_quality_reason(text: str, p: GopherQualityParams, *, language: str | None = None) -> str | None:
    """Why Gopher's quality rules drop ``text`` (words split as ``language``), or None to keep it."""
    stats = word_stats(words(text, language))
    if p.min_doc_words and stats.n_real < p.min_doc_words:
        return "short_doc"
    if p.max_doc_words and stats.n_real > p.max_doc_words:
        return "long_doc"
    if stats.n_real:  # with min_doc_words off and no words, datatrove's mean is NaN and passes
        mean = stats.real_chars / stats.n_real
        if p.min_avg_word_length and mean < p.min_avg_word_length:
            return "below_avg_word_length"
        if p.max_avg_word_length and mean > p.max_avg_word_length:
            return "above_avg_word_length"
    n_words = stats.n_words
    if p.max_symbol_word_ratio and n_words:
        if text.count("#") / n_words > p.max_symbol_word_ratio:
            return "too_many_hashes"
        if (text.count("...") + text.count("…")) / n_words > p.max_symbol_word_ratio:
            return "too_many_ellipsis"
    reason = _line_reason(text.splitlines(), p)
    if reason:
        return reason
    if p.max_non_alpha_words_ratio and n_words and stats.n_alpha / n_words < p.max_non_alpha_words_ratio:
        return "below_alpha_threshold"
    if p.min_stop_words and len(stats.vocab.keys() & set(p.stop_words)) < p.min_stop_words:
        return "few_stop_words"
    return None


class WordStats(NamedTuple):
    n_words: int  # all tokens
    n_real: int  # tokens that are not only punctuation/symbols
    real_chars: int  # characters in those
    n_alpha: int  # tokens with at least one letter
    vocab: Counter[str]  # token -> count


def word_stats(toks: Sequence[str]) -> WordStats:
    """Counts Gopher's rules need, computed once per distinct token."""
    vocab = Counter(toks)
    n_real = real_chars = n_alpha = 0
    for w, c in vocab.items():
        if w.isalpha():
            n_real += c
            real_chars += c * len(w)
            n_alpha += c
            continue
        if w.strip(_PUNCT_CHARS):
            n_real += c
            real_chars += c * len(w)
        if any(map(str.isalpha, w)):
            n_alpha += c
    return WordStats(len(toks), n_real, real_chars, n_alpha, vocab)


def _line_reason(lines: list[str], p: GopherQualityParams) -> str | None:
    if not lines:
        return None
    if p.max_bullet_lines_ratio:
        bullets = sum(1 for s in lines if s.lstrip().startswith(("•", "-")))
        if bullets / len(lines) > p.max_bullet_lines_ratio:
            return "too_many_bullets"
    if p.max_ellipsis_lines_ratio:
        ellipsis = sum(1 for s in lines if s.rstrip().endswith(("...", "…")))
        if ellipsis / len(lines) > p.max_ellipsis_lines_ratio:
            return "too_many_end_ellipsis"
    return None


class GopherQuality(LanguageRules[GopherQualityParams], TextRuleFilter[GopherQualityParams]):
    """Gopher's quality heuristics: length, word shape, symbols, bullets, stop words."""

    Params = GopherQualityParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "empty": "no words",
        "short_doc": "fewer than `min_doc_words` words",
        "long_doc": "more than `max_doc_words` words",
        "below_avg_word_length": "mean word length under `min_avg_word_length` characters",
        "above_avg_word_length": "mean word length over `max_avg_word_length` characters",
        "too_many_hashes": "more than `max_symbol_word_ratio` '#' per word",
        "too_many_ellipsis": "more than `max_symbol_word_ratio` ellipses ('...', '…') per word",
        "too_many_bullets": "more than `max_bullet_lines_ratio` of the lines start with a bullet",
        "too_many_end_ellipsis": "more than `max_ellipsis_lines_ratio` of the lines end with an ellipsis",
        "below_alpha_threshold": "under `max_non_alpha_words_ratio` of the words have a letter",
        "few_stop_words": "fewer than `min_stop_words` of `stop_words` (the language's own list when it has one)",
    }
    rule = staticmethod(gopher_quality_reason)

    def reject(self, doc: Document) -> str | None:
        lang = self.language_of(doc)
        return gopher_quality_reason(doc.text, self.params_for(lang), language=lang)


#: an n-gram size (Gopher uses 2..10; 0 or less has no n-grams to count) and a share of characters
NGramSize = Annotated[int, Field(ge=1, le=64)]
Share = Annotated[float, Field(ge=0, le=1)]


class GopherRepetitionParams(LanguageParams):
    STAGE = "gopher_repetition"

    # Gopher Table A1 thresholds; datatrove defaults (shares of lines/paragraphs/characters: 0..1)
    dup_line_frac: Share | None = 0.3  # duplicate line fraction
    dup_para_frac: Share | None = 0.3  # duplicate paragraph fraction
    dup_line_char_frac: Share | None = 0.2  # duplicate line character fraction
    dup_para_char_frac: Share | None = 0.2  # duplicate paragraph character fraction
    # Gopher Table A1: top 2/3/4-gram character fraction 0.20/0.18/0.16
    top_n_grams: tuple[tuple[NGramSize, Share], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    # Gopher Table A1: duplicate 5..10-gram character fraction 0.15 .. 0.10
    dup_n_grams: tuple[tuple[NGramSize, Share], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11),
                                                        (10, 0.10))


def gopher_repetition_reason(text: str, p: GopherRepetitionParams, *, language: str | None = None) -> str | None:
    """Why Gopher's repetition rules drop ``text`` (n-grams of words split as ``language``),
    or None to keep it."""
    if not text:
        return "empty"
    # paragraphs first, then lines (datatrove's order)
    for kind, split, frac, char_frac in (
        ("para", rep.paragraphs, p.dup_para_frac, p.dup_para_char_frac),
        ("line", rep.lines, p.dup_line_frac, p.dup_line_char_frac),
    ):
        items = split(text)
        n_dup, dup_chars = rep.duplicates(items)
        if frac and n_dup / len(items) > frac:
            return f"dup_{kind}_frac"
        if char_frac and dup_chars / len(text) > char_frac:
            return f"dup_{kind}_char_frac"
    if not p.top_n_grams and not p.dup_n_grams:
        return None
    index = rep.NgramIndex(words(text, language))
    for n, frac in p.top_n_grams:
        top = rep.top_ngram_chars(index, n)
        if top is not None and top / len(text) > frac:
            return f"top_{n}_gram"
    for n, frac in p.dup_n_grams:
        if rep.duplicated_ngram_chars(index, n) / len(text) > frac:
            return f"duplicated_{n}_n_grams"
    return None


class GopherRepetition(LanguageRules[GopherRepetitionParams], TextRuleFilter[GopherRepetitionParams]):
    """Gopher's repetition heuristics: repeated lines, paragraphs and n-grams."""

    Params = GopherRepetitionParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "empty": "no text",
        "dup_line_frac": "more than `dup_line_frac` of the lines are repeats of another line",
        "dup_para_frac": "more than `dup_para_frac` of the paragraphs are repeats",
        "dup_line_char_frac": "repeated lines hold more than `dup_line_char_frac` of the characters",
        "dup_para_char_frac": "repeated paragraphs hold more than `dup_para_char_frac` of the characters",
        "top_{n}_gram": ("the most frequent n-gram (n = 2, 3, 4 by default) covers more than its `top_n_grams` share"
                         " of the characters"),
        "duplicated_{n}_n_grams": ("repeated n-grams (n = 5..10 by default) cover more than their `dup_n_grams` share"
                                   " of the characters"),
    }
    rule = staticmethod(gopher_repetition_reason)

    def reject(self, doc: Document) -> str | None:
        lang = self.language_of(doc)
        return gopher_repetition_reason(doc.text, self.params_for(lang), language=lang)
