"""Repetition statistics behind Gopher's repetition rules (Rae et al. 2021, Table A1).

Pure functions of a text or its word list; ``gopher.py`` turns them into decisions.
They count exactly what datatrove's ``GopherRepetitionFilter`` counts, with two speed
changes that do not alter the figures: n-grams are compared as 64-bit hashes of word
ids (a seeded random value per distinct word) instead of joined strings, and only n-grams that occur
at least twice are walked in the greedy duplicate scan.

One deliberate difference: datatrove keys the 5-10-gram scan on ``"".join(words)``, so
``["ab", "c"]`` and ``["a", "bc"]`` collide; here n-grams are word sequences. It only
matters when the same characters are tokenised differently in two places.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_PARAGRAPH = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
# multiplier for rolling the word hashes into an n-gram hash (odd, 64-bit), and the seed
# of the per-word random values
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SEED = 1234


def paragraphs(text: str) -> list[str]:
    """Paragraphs: the stripped text split on blank lines (two or more newlines)."""
    return _PARAGRAPH.split(text.strip())


def lines(text: str) -> list[str]:
    """Lines: the text split on runs of newlines (not stripped, as datatrove)."""
    return _LINES.split(text)


def duplicates(items: Sequence[str]) -> tuple[int, int]:
    """(number of items seen before, their total characters), counting repeats only."""
    seen: set[str] = set()
    n_dup = chars = 0
    for item in items:
        if item in seen:
            n_dup += 1
            chars += len(item)
        else:
            seen.add(item)
    return n_dup, chars


class NgramIndex:
    """Word ids, word lengths and per-n hashes of one document's word list."""

    def __init__(self, words: Sequence[str]) -> None:
        vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
        ids = np.fromiter(map(vocab.__getitem__, words), dtype=np.int64, count=len(words))
        # a random 64-bit value per distinct word (fixed seed: the same in every run);
        # n-gram hashes below collide with probability ~2**-64 per pair
        word_hash = np.random.default_rng(_SEED).integers(0, 2**64, size=len(vocab), dtype=np.uint64, endpoint=False)
        self.hashes = word_hash[ids]
        lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self.cum_len = np.concatenate(([0], np.cumsum(lens)))
        self.n_words = len(words)
        self._keys: dict[int, np.ndarray] = {1: self.hashes}
        # smallest n found with no repeated n-gram: no longer n-gram repeats either
        self.no_repeats_from = self.n_words + 1

    def keys(self, n: int) -> np.ndarray:
        """Hash of each n-gram starting at positions 0 .. n_words - n."""
        if n not in self._keys:
            prev = self.keys(n - 1)
            with np.errstate(over="ignore"):
                self._keys[n] = prev[:-1] * _MIX + self.hashes[n - 1 :]
        return self._keys[n]

    def chars(self, n: int) -> np.ndarray:
        """Characters in the words of each n-gram (separators not counted)."""
        return self.cum_len[n:] - self.cum_len[:-n]


def top_ngram_chars(index: NgramIndex, n: int) -> int | None:
    """Characters covered by the most frequent n-gram: its length (words joined by single
    spaces) times its count; ties go to the n-gram seen first. None when there are no n-grams."""
    if index.n_words < n:
        return None
    keys = index.keys(n)
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    top = counts.max()
    start = int(first[counts == top].min())
    return int(top) * (int(index.chars(n)[start]) + n - 1)


def duplicated_ngram_chars(index: NgramIndex, n: int) -> int:
    """Characters in n-grams that repeat an earlier one, scanning left to right and
    jumping past each repeat (so overlapping repeats are not counted twice)."""
    if index.n_words < n or n >= index.no_repeats_from:
        return 0
    keys = index.keys(n)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    candidates = np.flatnonzero(counts[inverse] > 1)
    if candidates.size == 0:
        index.no_repeats_from = n
        return 0
    chars = index.chars(n)
    seen: set[int] = set()
    total = 0
    next_free = 0
    for pos, key in zip(candidates.tolist(), keys[candidates].tolist()):
        if pos < next_free:
            continue
        if key in seen:
            total += int(chars[pos])
            next_free = pos + n
        else:
            seen.add(key)
    return total
