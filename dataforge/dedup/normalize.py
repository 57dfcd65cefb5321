"""Text normalisation for dedup: pure functions from text to a list of word bytes."""

from __future__ import annotations

import re

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


def words(text: str, norm: Normalize) -> list[bytes]:
    """Normalised words of ``text`` as UTF-8 bytes; whitespace runs collapse, ends are stripped.

    >>> words("Hello, World 42!", Normalize())
    [b'hello', b'world', b'00']
    """
    if norm.lowercase:
        text = text.lower()
    if not text.isascii():
        if norm.punctuation:
            text = _UNICODE_PUNCT.sub(" ", text)
        if norm.digits:
            text = _DIGIT.sub("0", text)
    return text.encode("utf-8", "surrogatepass").translate(_TABLES[norm.punctuation, norm.digits]).split()


def normalized_text(text: str, norm: Normalize) -> bytes:
    """The whole normalised text as one byte string (words joined by one space)."""
    return b" ".join(words(text, norm))


def shingles(ws: list[bytes], n: int) -> list[bytes]:
    """Word n-grams joined by one space; a text of 1..n-1 words is one shingle of all its words."""
    if not ws:
        return []
    if len(ws) < n:
        return [b" ".join(ws)]
    return [b" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]
