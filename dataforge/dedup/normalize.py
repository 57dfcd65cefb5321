"""Text normalisation for dedup: pure functions from text to a list of word bytes.

MinHash shingles are word n-grams, so text without spaces between words (Chinese,
Japanese, Thai) is first split by the language's segmenter (``dataforge.lang.segment``),
as datatrove's MinhashDedupSignature does with its ``language``. The language is the
caller's (``language=``), else read from the text: when at least a fifth of its first
2,000 non-space characters are Han, Kana or Thai, Kana make it Japanese, Han alone
Chinese, Thai Thai. Other text is split on whitespace, as before. Exact dedup compares
whole normalised texts and does not segment.
"""

from __future__ import annotations

import re

from ..lang.segment import has_segmenter, segmenter
from ..stage import Params


class Normalize(Params):
    """How text is normalised before hashing (datatrove ``simplify_text`` does the same steps)."""

    # lowercase before hashing (datatrove TextNormConfig.lowercase=True)
    lowercase: bool = True
    # punctuation and symbols become spaces (datatrove TextNormConfig.remove_punctuation=True)
    punctuation: bool = True
    # every digit becomes '0' (datatrove TextNormConfig.norm_numbers=True)
    digits: bool = True


def _ascii_table(*, punctuation: bool, digits: bool) -> bytes:
    table = bytearray(range(256))
    for c in range(128):
        ch = chr(c)
        if punctuation and not ch.isalnum() and not ch.isspace():
            table[c] = ord(" ")
        if digits and ch.isdigit():
            table[c] = ord("0")
    return bytes(table)


_DIGIT = re.compile(r"\d")
_TABLES = {(p, d): _ascii_table(punctuation=p, digits=d) for p in (True, False) for d in (True, False)}
# Non-ASCII punctuation, symbols and spaces seen in web text: Latin-1 punctuation,
# General Punctuation (dashes, curly quotes, ellipsis, thin spaces), arrows/symbols,
# CJK punctuation and the fullwidth ASCII punctuation block.
_UNICODE_PUNCT = re.compile(
    "[\u00a0-\u00bf\u00d7\u00f7\u2000-\u206f\u2190-\u2bff\u3000-\u303f"
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]"
)


_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_THAI = re.compile("[\u0e00-\u0e7f]")
_SAMPLE = 2000
_UNSPACED_SHARE = 0.2


def unspaced_language(text: str) -> str | None:
    """"ja", "zh" or "th" when the text is mostly written without spaces, else None."""
    if text.isascii():
        return None
    sample = "".join(text[: _SAMPLE * 2].split())[:_SAMPLE]
    kana, han, thai = (len(r.findall(sample)) for r in (_KANA, _HAN, _THAI))
    if not sample or kana + han + thai < _UNSPACED_SHARE * len(sample):
        return None
    if thai > kana + han:
        return "th"
    return "ja" if kana >= 0.05 * (kana + han) else "zh"


def words(text: str, norm: Normalize, *, language: str | None = None) -> list[bytes]:
    """Normalised words of ``text`` as UTF-8 bytes; whitespace runs collapse, ends are stripped.
    Unspaced scripts are segmented first (``language``, else ``unspaced_language``).

    >>> words("Hello, World 42!", Normalize())
    [b'hello', b'world', b'00']
    """
    lang = language if language is not None else unspaced_language(text)
    if has_segmenter(lang):
        text = " ".join(segmenter(lang).words(text))
    return _split(text, norm)


def _split(text: str, norm: Normalize) -> list[bytes]:
    if norm.lowercase:
        text = text.lower()
    if not text.isascii():
        if norm.punctuation:
            text = _UNICODE_PUNCT.sub(" ", text)
        if norm.digits:
            text = _DIGIT.sub("0", text)
    return text.encode("utf-8", "surrogatepass").translate(_TABLES[norm.punctuation, norm.digits]).split()


def normalized_text(text: str, norm: Normalize) -> bytes:
    """The whole normalised text as one byte string (words joined by one space; no segmenting)."""
    return b" ".join(_split(text, norm))


def shingles(ws: list[bytes], n: int) -> list[bytes]:
    """Word n-grams joined by one space; a text of 1..n-1 words is one shingle of all its words."""
    if not ws:
        return []
    if len(ws) < n:
        return [b" ".join(ws)]
    return [b" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]
