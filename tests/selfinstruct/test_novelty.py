"""ROUGE-L and the indexed novelty filter against a brute-force rouge-score pass."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from dataforge.selfinstruct.dedup import dedup_records
from dataforge.selfinstruct.novelty import NoveltyIndex
from dataforge.selfinstruct.rouge import lcs_length, lcs_length_dp, match_masks, rouge_l_f1, rouge_tokens

SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
TEXT = st.text(alphabet=st.sampled_from(list("abc xyz019 ,.-ÉéİK\u212a\n")), max_size=40)


@given(TEXT)
def test_tokens_equal_rouge_score(text):
    assert rouge_tokens(text) == SCORER._tokenizer.tokenize(text)


@given(st.lists(st.integers(0, 5), max_size=30), st.lists(st.integers(0, 5), max_size=30))
def test_bit_parallel_lcs_equals_dp(a, b):
    assert lcs_length(match_masks(a), len(a), b) == lcs_length_dp(a, b)


@given(TEXT, TEXT)
@settings(max_examples=300)
def test_f1_is_bit_identical_to_rouge_score(a, b):
    ta, tb = rouge_tokens(a), rouge_tokens(b)
    ids = {t: i for i, t in enumerate(sorted(set(ta) | set(tb)))}
    lcs = lcs_length(match_masks([ids[t] for t in ta]), len(ta), [ids[t] for t in tb])
    assert rouge_l_f1(lcs, len(ta), len(tb)) == SCORER.score(a, b)["rougeL"].fmeasure


def test_decision_at_exactly_point_seven():
    # 10 and 10 tokens, LCS 7: 2*0.7*0.7/1.4 in floats - the decision must be rouge-score's
    a = "a b c d e f g h i j"
    b = "a b c d e f g x y z"
    f = SCORER.score(a, b)["rougeL"].fmeasure
    idx = NoveltyIndex()
    idx.add(b)
    assert f == 0.7 and idx.check(a).novel  # not > 0.7: kept
    # 7 and 13 tokens, LCS 7 -> F1 exactly 0.7 in math too, but 0.7000000000000001 in floats
    c = "a b c d e f g"
    d = "a b c d e f g q r s t u v"
    idx2 = NoveltyIndex()
    idx2.add(d)
    assert SCORER.score(c, d)["rougeL"].fmeasure == 0.7000000000000001
    assert not idx2.check(c).novel  # rouge-score's float says > 0.7: rejected


def variants(texts: list[str], n: int, seed: int) -> list[str]:
    """Random edits of real instructions: deletions, insertions, swaps - near and far copies."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choice(texts).split()
        for _ in range(rng.randint(0, 5)):
            op = rng.random()
            if op < 0.4 and len(words) > 1:
                del words[rng.randrange(len(words))]
            elif op < 0.7:
                words.insert(rng.randrange(len(words) + 1), rng.choice(rng.choice(texts).split()))
            elif len(words) > 1:
                j = rng.randrange(len(words) - 1)
                words[j], words[j + 1] = words[j + 1], words[j]
        out.append(" ".join(words))
    return out


@pytest.fixture(scope="module")
def stream(data_dir):
    seeds = [json.loads(line)["instruction"] for line in
             (data_dir / "instructions" / "seed_tasks.jsonl").read_text().splitlines()]
    return seeds + variants(seeds, 150, seed=1) + ["", "!!!", "zzz unknownword qqq"]


def test_decisions_equal_brute_force_rouge_score(stream):
    idx = NoveltyIndex()
    fast = [idx.check_and_add(text).novel for text in stream]
    pool: list[list[str]] = []
    brute = []
    for text in stream:
        toks = SCORER._tokenizer.tokenize(text)
        novel = not any(rouge_scorer._score_lcs(toks, p).fmeasure > 0.7 for p in pool)
        brute.append(novel)
        if novel:
            pool.append(toks)
    assert fast == brute
    assert 0 < sum(fast) < len(fast)  # both outcomes occur


def test_top_k_scores_equal_brute_force(stream):
    idx = NoveltyIndex(top_k_postings=10**9)  # read every posting: the top k is then exact
    for text in stream[:175]:
        idx.add(text)
    outcomes = set()
    for query in stream[175:215]:
        verdict = idx.check(query, top_k=5)
        outcomes.add(verdict.novel)
        scores = sorted((SCORER.score(query, p)["rougeL"].fmeasure for p in stream[:175]), reverse=True)[:5]
        assert verdict.novel == (not scores[0] > 0.7)
        if not verdict.novel:  # a rejection names one match above the threshold
            assert len(verdict.similar) == 1 and verdict.similar[0][1] > 0.7
            continue
        # equal in value; at a tie on the k-th place float rounding may pick a different item
        assert [s for _, s in verdict.similar] == pytest.approx([s for s in scores if s > 0][:len(verdict.similar)])
        assert len(verdict.similar) == min(5, sum(s > 0 for s in scores))
    assert outcomes == {True, False}


def test_index_prunes_most_pairs(stream):
    idx = NoveltyIndex()
    scored = sum(idx.check_and_add(text).scored for text in stream)
    n = len(stream)
    assert scored < n * n / 2 / 20  # far fewer than all pairs


def test_dedup_records_names_the_match():
    recs = [{"instruction": "Give three tips for staying healthy."},
            {"instruction": "Give three tips for staying healthy!"},
            {"instruction": "Name the capital city of France."}]
    kept, dropped = dedup_records(recs)
    assert [r["instruction"] for r in kept] == [recs[0]["instruction"], recs[2]["instruction"]]
    assert dropped == [{"instruction": recs[1]["instruction"], "similar_to": recs[0]["instruction"], "rouge_l": 1.0}]
    kept, _ = dedup_records(recs[2:], against=["Name the capital city of France please."])
    assert kept == []


def test_check_can_exclude_pool_items():
    from dataforge.selfinstruct.novelty import NoveltyIndex

    idx = NoveltyIndex()
    idx.add("Write a short poem about the sea and the wind.")
    idx.add("Name three primary colours.")
    evolved = "Write a short poem about the sea and the wind in exactly four rhyming lines."
    assert not idx.check(evolved).novel
    assert idx.check(evolved, exclude=frozenset({0})).novel  # its parent excluded
    assert not idx.check("Name three primary colours!", exclude=frozenset({0})).novel
