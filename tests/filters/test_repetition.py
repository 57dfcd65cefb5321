"""The hashed n-gram statistics equal the plain string definitions (Gopher Table A1 as
datatrove computes it), on random word lists and on real text."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dataforge.filters.repetition import NgramIndex, duplicated_ngram_chars, duplicates, lines, paragraphs, top_ngram_chars
from dataforge.filters.text import words


def naive_top(ws: list[str], n: int) -> int | None:
    grams = [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]
    if not grams:
        return None
    gram, count = Counter(grams).most_common(1)[0]  # ties: first seen
    return len(gram) * count


def naive_dup(ws: list[str], n: int) -> int:
    seen: set[tuple[str, ...]] = set()
    total = i = 0
    while i < len(ws) - n + 1:
        gram = tuple(ws[i : i + n])
        if gram in seen:
            total += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return total


word_lists = st.lists(st.sampled_from(["a", "bb", "ccc", "the", "of", "x", "yyyy", "."]), max_size=80)


@settings(max_examples=200, deadline=None)
@given(word_lists, st.integers(min_value=1, max_value=10))
def test_hashed_ngram_stats_equal_the_definitions(ws: list[str], n: int) -> None:
    index = NgramIndex(ws)
    assert top_ngram_chars(index, n) == naive_top(ws, n)
    assert duplicated_ngram_chars(index, n) == naive_dup(ws, n)


def test_on_real_text(data_dir: Path) -> None:
    text = (data_dir / "books" / "alice.txt").read_text(encoding="utf-8")[:60_000]
    ws = list(words(text))
    index = NgramIndex(ws)
    for n in range(2, 11):
        assert top_ngram_chars(index, n) == naive_top(ws, n)
        assert duplicated_ngram_chars(index, n) == naive_dup(ws, n)


def test_duplicates_counts_repeats_only() -> None:
    assert duplicates(["a", "bb", "a", "bb", "a", "c"]) == (3, 4)
    assert duplicates([]) == (0, 0)


def test_paragraphs_and_lines_split_like_datatrove() -> None:
    assert paragraphs("\n\none\n\n\ntwo\nthree\n\n") == ["one", "two\nthree"]
    assert lines("one\n\ntwo\n") == ["one", "two", ""]
