"""Word and sentence segmenters for scripts written without spaces between words.

Chinese, Japanese and Thai put no space between words, and Korean's spaces separate
phrases of several morphemes, so a word-based rule needs a dictionary segmenter. These
are the segmenters datatrove assigns to these languages (``datatrove/utils/word_tokenizers.py``),
and so the ones FineWeb-2's per-language thresholds were measured with:

========  ==================================  ==============================================
language  package (the ``multilingual`` extra)  why
========  ==================================  ==============================================
zh        rjieba (jieba-rs)                    jieba's dictionary and HMM (datatrove runs jieba
                                               through spaCy); Rust, abi3 wheel, ~10x jieba
ja        sudachipy + sudachidict-core         what spaCy's Japanese tokenizer (and so datatrove)
                                               runs, split mode A; Rust, wheels
ko        kiwipiepy                            datatrove's Korean tokenizer; C++ wheel (its model
                                               package loads in ~5 s once per process)
th        pythainlp (newmm-safe)               datatrove's Thai tokenizer; pure-Python wheel,
                                               dictionary inside the package
========  ==================================  ==============================================

Nothing is downloaded at run time: every dictionary ships inside its wheel. A segmenter
is loaded on first use, once per process. Sentences in these scripts end at explicit
marks (。！？ and the ASCII ones), so they are split by rule, not by the packages.

Every other language uses the rule-based splitter of ``filters/text.py`` (spaCy's
English rules: whitespace, then affixes and exceptions), which is what datatrove's
English tokenizer does and close to what spaCy does for other space-delimited languages.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeGuard

from ..errors import DataforgeError

#: languages with a dedicated segmenter -> the package it needs (the ``multilingual`` extra)
PACKAGES: dict[str, str] = {"zh": "rjieba", "yue": "rjieba", "wuu": "rjieba", "ja": "sudachipy",
                            "ko": "kiwipiepy", "th": "pythainlp"}
EXTRA = "multilingual"

# a sentence ends after one of these (and any closing quotes or brackets after it)
_CJK_END = "。！？｡!?．"
_CLOSERS = "」』”’\"'）)】〕》〉"
_CJK_SENTENCE = re.compile(rf"[^{_CJK_END}\n]*(?:[{_CJK_END}]+[{re.escape(_CLOSERS)}]*|\n|$)")
# Thai and Korean end sentences with a space (Thai) or ". ? !" then a space (Korean)
_THAI = "\u0e00-\u0e7f"
_SPACED_SENTENCE = re.compile(rf"(?<=[.?!{_CJK_END}])[{re.escape(_CLOSERS)}]*\s+|\n+|(?<=[{_THAI}])[ \t]+(?=[{_THAI}])")
# Sudachi refuses input over 49,149 bytes; datatrove cuts Japanese at 40,000
_MAX_CHUNK_BYTES = 40_000
# Kiwi stalls on very long digit runs (datatrove removes runs of 20+ digits/commas first)
_LONG_NUMBER = re.compile(r"[0-9,]{20,}")
# lines whose words each segmenter keeps (a few pages' worth)
_LINE_CACHE = 4096


class SegmenterMissing(DataforgeError):
    """A language met that needs an optional package which is not installed."""


@dataclass(frozen=True)
class Segmenter:
    """One language's word splitter (``words``: tokens, punctuation included, no
    whitespace) and sentence splitter.

    Text is segmented line by line (no word spans a newline), and the last lines seen are
    cached: C4 asks for each line's words after the other filters asked for the whole
    document's, and gets them without a second dictionary pass."""

    language: str
    package: str
    split: Callable[[str], list[str]]
    sentences: Callable[[str], list[str]]
    _lines: Callable[[str], tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        split = self.split
        object.__setattr__(self, "_lines", lru_cache(maxsize=_LINE_CACHE)(lambda line: tuple(split(line))))

    def words(self, text: str) -> list[str]:
        out: list[str] = []
        for line in text.split("\n"):
            line = line.strip()
            if line:
                out += self._lines(line)
        return out


def has_segmenter(language: str | None) -> TypeGuard[str]:
    """Does ``language`` get a dedicated segmenter (instead of the rule-based splitter)?
    (True also tells the type checker that ``language`` is a code, not None.)"""
    return language in PACKAGES


@lru_cache(maxsize=None)
def segmenter(language: str) -> Segmenter:
    """The dedicated segmenter of ``language`` (loaded once per process).

    Raises ``SegmenterMissing`` naming the extra when its package is not installed."""
    package = PACKAGES[language]
    try:
        importlib.import_module(package)
    except ImportError:
        raise SegmenterMissing(
            f"documents in language '{language}' need the word segmenter '{package}', which is not installed: "
            f"pip install 'dataforge[{EXTRA}]' (or pip install {package})") from None
    build = {"rjieba": _chinese, "sudachipy": _japanese, "kiwipiepy": _korean, "pythainlp": _thai}[package]
    return build(language)


def _clean(tokens: Iterator[str] | list[str]) -> list[str]:
    """Tokens without surrounding whitespace, empty ones dropped (as datatrove's strip_strings)."""
    out = []
    for t in tokens:
        t = t.strip()
        if t:
            out.append(t)
    return out


def cjk_sentences(text: str) -> list[str]:
    """Sentences of unspaced CJK text: up to a 。！？ (with closing quotes) or a newline."""
    return _clean(m.group() for m in _CJK_SENTENCE.finditer(text) if m.group())


def spaced_sentences(text: str) -> list[str]:
    """Sentences ended by . ? ! and a space, a newline, or (Thai) a space between Thai letters."""
    return _clean(_SPACED_SENTENCE.split(text))


def chunks(text: str, max_bytes: int = _MAX_CHUNK_BYTES) -> Iterator[str]:
    """``text`` cut at line ends into pieces of at most ``max_bytes`` UTF-8 bytes (a longer
    line is cut between characters)."""
    if len(text) * 4 <= max_bytes or len(text.encode("utf-8", "surrogatepass")) <= max_bytes:
        yield text
        return
    piece: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        n = len(line.encode("utf-8", "surrogatepass"))
        if size + n > max_bytes and piece:
            yield "".join(piece)
            piece, size = [], 0
        while n > max_bytes:
            cut = max_bytes // 4
            yield line[:cut]
            line = line[cut:]
            n = len(line.encode("utf-8", "surrogatepass"))
        piece.append(line)
        size += n
    if piece:
        yield "".join(piece)


def _chinese(language: str) -> Segmenter:
    import rjieba  # deferred: the [multilingual] extra

    def words(text: str) -> list[str]:
        return _clean(rjieba.cut(text))  # jieba.cut(text, HMM=True), as spaCy's jieba segmenter

    return Segmenter(language, "rjieba", words, cjk_sentences)


def _japanese(language: str) -> Segmenter:
    from sudachipy import Dictionary, SplitMode  # deferred: the [multilingual] extra

    # spaCy's Japanese tokenizer: the core dictionary, split mode A (shortest units)
    tok = Dictionary(dict="core").tokenizer(mode=SplitMode.A)

    def words(text: str) -> list[str]:
        # slices by offset: 2x faster than Morpheme.surface() (measured, benchmarks/bench_multilingual.py)
        return _clean(piece[m.begin() : m.end()] for piece in chunks(text) for m in tok.tokenize(piece))

    return Segmenter(language, "sudachipy", words, cjk_sentences)


def _korean(language: str) -> Segmenter:
    from kiwipiepy import Kiwi  # deferred: the [multilingual] extra

    kiwi: Any = Kiwi()

    def words(text: str) -> list[str]:
        out: list[str] = []
        for piece in chunks(_LONG_NUMBER.sub("", text)):
            out += _clean(piece[t.start : t.end] for t in kiwi.tokenize(piece))  # surface forms
        return out

    return Segmenter(language, "kiwipiepy", words, spaced_sentences)


def _thai(language: str) -> Segmenter:
    from pythainlp.tokenize import word_tokenize  # deferred: the [multilingual] extra

    def words(text: str) -> list[str]:
        # datatrove's ThaiTokenizer: newmm-safe (newmm that never stalls on long ambiguous runs)
        return _clean(word_tokenize(text, engine="newmm-safe", keep_whitespace=False))

    return Segmenter(language, "pythainlp", words, spaced_sentences)
