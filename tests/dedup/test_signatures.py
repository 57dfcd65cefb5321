"""Signatures: datasketch equality, exact Mersenne arithmetic, LSH layout, normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from dataforge.dedup.lsh import optimal_bands_rows
from dataforge.dedup.normalize import Normalize, shingles, words
from dataforge.dedup.signatures import (band_keys, datasketch_shingle_hashes, fast_shingle_hashes,
                                        make_permutations, signatures)

from .conftest import c4_texts


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (112, 1234), (64, 7)])
def test_datasketch_mode_equals_datasketch_minhash(num_perm: int, seed: int) -> None:
    perms = make_permutations(num_perm, seed, "datasketch")
    texts = c4_texts(12)
    hashes = [datasketch_shingle_hashes(shingles(words(t, Normalize()), 5)) for t in texts]
    ours = signatures(hashes, perms)  # one batch: exercises the block/segment split
    for text, row in zip(texts, ours):
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch(shingles(words(text, Normalize()), 5))
        assert np.array_equal(row, m.hashvalues.astype(np.uint64))


def test_fast_permutations_are_exact_mod_mersenne() -> None:
    p = (1 << 61) - 1
    perms = make_permutations(16, 3, "fast")
    h = np.array([0, 1, p - 1, p, p + 5, 2**64 - 1, 0xDEADBEEFCAFEBABE], dtype=np.uint64)
    want = [min((int(a) * (int(x) % p) + int(b)) % p for x in h) for a, b in zip(perms.a, perms.b)]
    assert signatures([h], perms)[0].tolist() == want


def test_signature_is_min_over_shingles_and_empty_doc_is_all_max() -> None:
    perms = make_permutations(32, 1, "fast")
    h = fast_shingle_hashes(words("one two three four five six seven", Normalize()), 5)
    both, first = signatures([h, h[:1]], perms), signatures([h[:1]], perms)
    assert np.all(both[0] <= first[0]) and np.array_equal(both[1], first[0])
    assert signatures([np.empty(0, np.uint64)], perms)[0].tolist() == [2**64 - 1] * 32


def test_band_keys_match_iff_band_rows_match() -> None:
    sig = np.arange(24, dtype=np.uint64).reshape(2, 12)
    sig[1, :4] = sig[0, :4]  # band 0 equal, bands 1-2 differ
    keys = band_keys(sig, 3, 4)
    assert keys[0, 0] == keys[1, 0] and keys[0, 1] != keys[1, 1] and keys[0, 2] != keys[1, 2]


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 128), (0.8, 128), (0.9, 112)])
def test_bands_rows_from_threshold_match_datasketch_rule(threshold: float, num_perm: int) -> None:
    assert optimal_bands_rows(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_normalisation_lowercases_strips_punctuation_and_digits() -> None:
    assert words("The “Quick” brown—fox, 2024!  Ran…", Normalize()) == [
        b"the", b"quick", b"brown", b"fox", b"0000", b"ran"]
    assert words("A1 b", Normalize(digits=False, lowercase=False)) == [b"A1", b"b"]


def test_short_text_is_one_shingle_and_empty_text_none() -> None:
    assert shingles([b"a", b"b"], 5) == [b"a b"]
    assert shingles([], 5) == []
    assert len(fast_shingle_hashes([b"a", b"b"], 5)) == 1
    assert len(fast_shingle_hashes([b"w"] * 7, 5)) == 3


def test_fast_permutations_are_canonical_where_one_fold_leaves_p_or_more() -> None:
    p = (1 << 61) - 1
    perms = make_permutations(8, 11, "fast")
    a, b = int(perms.a[0]), int(perms.b[0])
    # shingle hashes whose first permutation gives 0..3: before the final fold the sum is
    # v + m*p with m >= 1, which one Mersenne fold leaves at p + v, not v
    h = np.array([((v - b) * pow(a, -1, p)) % p for v in range(4)], dtype=np.uint64)
    want = [min((int(x) * int(aa) + int(bb)) % p for x in h) for aa, bb in zip(perms.a, perms.b)]
    got = signatures([h, h[1:]], perms)
    assert got[0].tolist() == want and got[0, 0] == 0 and got[1, 0] == 1


def test_unspaced_scripts_are_segmented_into_words_for_shingles() -> None:
    """Chinese and Japanese text is cut into words (a whole unspaced run was one 'word',
    so a 5-gram shingle spanned whole paragraphs and near-duplicates shared none)."""
    from dataforge.dedup.normalize import normalized_text, unspaced_language

    zh = "我们在北京大学学习自然语言处理。"
    assert [w.decode() for w in words(zh, Normalize())] == ["我们", "在", "北京大学", "学习", "自然语言", "处理"]
    assert [w.decode() for w in words("東京都に住んでいます。", Normalize())] == ["東京", "都", "に", "住ん", "で", "い", "ます"]
    assert unspaced_language(zh) == "zh" and unspaced_language("東京都に住んでいます") == "ja"
    # English with a few Han characters, and Korean (spaced), are split on whitespace as before
    assert unspaced_language("The word 北京 means Beijing in Chinese, a city of 21 million.") is None
    assert words("저는 학생입니다.", Normalize()) == [w.encode() for w in ("저는", "학생입니다")]
    # a near-duplicate (one clause changed) now shares most 5-word shingles
    a = zh * 3 + "今天天气很好，我们去公园散步。"
    b = zh * 3 + "今天天气不好，我们在家看书。"
    sa, sb = set(shingles(words(a, Normalize()), 5)), set(shingles(words(b, Normalize()), 5))
    assert len(sa & sb) / len(sa | sb) > 0.4
    # exact dedup compares whole texts, unsegmented
    assert normalized_text(zh, Normalize()) == "我们在北京大学学习自然语言处理".encode()
