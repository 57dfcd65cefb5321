"""C4's heuristic cleaning (Raffel et al. 2020, "Exploring the Limits of Transfer Learning
with a Unified Text-to-Text Transformer", section 2.2; TFDS ``c4_utils``).

Line rules remove lines (counted as ``lines_removed.<reason>``): a word longer than
``max_word_length``, no terminal punctuation, fewer than ``min_words_per_line`` words,
"javascript", a cookie/terms-of-use phrase. Wikipedia-style citation markers ("[1]",
"[edit]", "[citation needed]") are deleted from kept lines. Document rules drop the
page (``dropped.<reason>``): "lorem ipsum", a curly bracket, fewer than
``min_num_sentences`` sentences left. Option names and defaults are datatrove's
``C4QualityFilter`` (FineWeb sets ``filter_no_terminal_punct: false``).

This rewrites text and drops documents, so it is a ``Filter`` (for counting and
``sample_rejected``) that overrides ``process`` and is marked ``rewrites_text``.

Languages: a document's language (``meta['lang']``, else the ``language:`` option)
picks how line words and sentences are counted (dictionary segmenters for Chinese,
Japanese, Korean, Thai), and every language but English ends lines with its own marks
(``end_punctuation: unicode``: 。！？, the danda, ...; C4 itself is English-only and
FineWeb-2 does not run it). Without a language, words are counted by spaces, so an
unspaced Chinese or Japanese line is one "word" and is removed (``too_few_words``), and
"。" is not terminal punctuation (C4's set is ``. ? ! " '``); CJK pages end up with no
lines and are dropped as ``too_few_sentences``, as in datatrove.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import ClassVar, Literal

from pydantic import Field

from ..document import Document
from ..lang.options import LanguageParams, LanguageRules
from ..lang.segment import has_segmenter
from ..stage import Filter
from .text import TERMINAL_PUNCTUATION, count_sentences, split_sentences, split_words

# TFDS c4_utils / datatrove: citation markers removed from lines
_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
# C4 paper: "lines that ended in a terminal punctuation mark (i.e. a period, exclamation
# mark, question mark, or end quotation mark)"
_END_PUNCTUATION = (".", "?", "!", '"', "'")
# end_punctuation: unicode: every script's sentence terminals, and closing quotes after them
_UNICODE_END = tuple(sorted(TERMINAL_PUNCTUATION | set("\"'”’」』）»")))
# TFDS c4_utils / datatrove: cookie and terms-of-use boilerplate
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")

DATATROVE_LINE_STAT: dict[str, str] = {  # our lines_removed.<reason> -> datatrove's stat name
    "too_long_word": "line-filter-too_long_word",
    "no_terminal_punct": "line-filter-no_terminal_punc",
    "too_few_words": "line-filter-too_few_words",
    "javascript": "line-filter-javascript",
    "policy": "line-filter-policy",
}


class C4Params(LanguageParams):
    STAGE = "c4"

    # C4 splits pages into lines on "\n"; false = apply the line rules to sentences
    split_paragraph: bool = True
    # TFDS c4_utils: remove Wikipedia citation markers
    remove_citations: bool = True
    # C4: keep only lines ending in terminal punctuation (FineWeb turns this off)
    filter_no_terminal_punct: bool = True
    # C4: "discarded any page with fewer than 5 sentences" (-1 disables)
    min_num_sentences: int = Field(5, ge=-1)
    # C4: "only retained lines that contained at least 3 words" (-1 disables)
    min_words_per_line: int = Field(3, ge=-1)
    # TFDS c4_utils: drop lines with a word over 1000 characters (-1 disables)
    max_word_length: int = Field(1000, ge=-1)
    # C4: "removed any page where the phrase 'lorem ipsum' appeared"
    filter_lorem_ipsum: bool = True
    # C4: "removed any line with the word Javascript"
    filter_javascript: bool = True
    # C4: "removed any pages that contained a curly bracket"
    filter_curly_bracket: bool = True
    # TFDS c4_utils: drop cookie / terms-of-use lines
    filter_policy: bool = True
    # which marks end a line: "c4" = C4's . ? ! " ' ; "unicode" = any script's sentence
    # terminals (the default for languages other than English, see dataforge.lang.defaults)
    end_punctuation: Literal["c4", "unicode"] = "c4"


def line_reason(line: str, n_words: int, p: C4Params) -> str | None:
    """Why one (stripped, citation-free) line is removed; ``"!lorem_ipsum"`` and
    ``"!curly_bracket"`` (leading ``!``) mean the whole page goes."""
    ends = _END_PUNCTUATION if p.end_punctuation == "c4" else _UNICODE_END
    if p.filter_no_terminal_punct and (not line.endswith(ends) or line.endswith("...")):
        return "no_terminal_punct"
    if n_words < p.min_words_per_line:
        return "too_few_words"
    lower = line.lower()
    if p.filter_lorem_ipsum and "lorem ipsum" in lower:
        return "!lorem_ipsum"
    if p.filter_javascript and "javascript" in lower:
        return "javascript"
    if p.filter_curly_bracket and "{" in line:
        return "!curly_bracket"
    if p.filter_policy and any(phrase in lower for phrase in _POLICY):
        return "policy"
    return None


def c4_clean(text: str, p: C4Params, *, language: str | None = None
             ) -> tuple[str | None, str | None, Counter[str]]:
    """Apply C4's rules: (new text or None, the page's drop reason or None, removed lines by
    reason). Words and sentences are counted as ``language`` splits them."""
    segmented = has_segmenter(language)
    pieces = text.splitlines() if p.split_paragraph else split_sentences(text, language=language)
    removed: Counter[str] = Counter()
    kept: list[str] = []
    sentences = 0
    for piece in pieces:
        line = piece.strip()
        line_words = split_words(line, language=language) if segmented else line.split()
        if p.max_word_length != -1 and any(len(w) > p.max_word_length for w in line_words):
            removed["too_long_word"] += 1
            continue
        if p.remove_citations:
            line = _CITATION.sub("", line)
        reason = line_reason(line, len(line_words), p)
        if reason is not None and reason.startswith("!"):
            return None, reason[1:], removed
        if reason is not None:
            removed[reason] += 1
            continue
        if p.min_num_sentences != -1 and sentences < p.min_num_sentences:
            sentences += count_sentences(line, language=language) if p.split_paragraph else 1
        kept.append(line)
    if sentences < p.min_num_sentences:
        return None, "too_few_sentences", removed
    return ("\n" if p.split_paragraph else " ").join(kept).strip(), None, removed


class C4(LanguageRules[C4Params], Filter[C4Params]):
    """C4's line cleaning and page rules; rewrites the text of the pages it keeps."""

    Params: ClassVar[type[C4Params]] = C4Params
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "empty": "no line survived the line rules",
        "too_few_sentences": "fewer than `min_num_sentences` sentences after the line rules",
        "lorem_ipsum": "the page contains 'lorem ipsum' (`filter_lorem_ipsum`)",
        "curly_bracket": "the page contains '{' (`filter_curly_bracket`: code, not prose)",
    }
    rewrites_text: ClassVar[bool] = True

    def clean(self, doc: Document) -> tuple[str | None, str | None, Counter[str]]:
        lang = self.language_of(doc)
        return c4_clean(doc.text, self.params_for(lang), language=lang)

    def reject(self, doc: Document) -> str | None:
        return self.clean(doc)[1]

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            new_text, reason, removed = self.clean(doc)
            for key, n in removed.items():
                self.count(doc, f"lines_removed.{key}", n)
            if new_text is None:
                self.dropped(doc, reason or "empty")
                continue
            doc.text = new_text
            yield doc
