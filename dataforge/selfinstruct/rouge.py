"""ROUGE-L F1 exactly as ``rouge_score`` computes it, with a bit-parallel LCS.

Decisions must equal ``rouge_scorer.RougeScorer(['rougeL'], use_stemmer=False)``
(the scorer used by Self-Instruct ``bootstrap_instructions.py`` and Alpaca
``generate_instruction.py``), down to the float comparison ``f > 0.7``. So:

* tokens: ``text.lower()``, every run of characters outside ``[a-z0-9]`` becomes a
  separator, empty pieces dropped (rouge_score ``tokenize.tokenize`` without a
  stemmer) - the maximal ``[a-z0-9]+`` runs of the lowercased text are the same list;
* ``precision = lcs / len(prediction)``, ``recall = lcs / len(target)``,
  ``f = 2 * precision * recall / (precision + recall)`` in that float order
  (rouge_score ``_score_lcs`` and ``scoring.fmeasure``); an empty side scores 0.

The LCS length comes from the bit-vector algorithm of Allison & Dix (1986) /
Hyyrö (2004): one big-int add, or, and and per token of the other text instead of
a Python dynamic-programming table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN_RE = re.compile(r"[a-z0-9]+")

#: The published novelty threshold: a new instruction is rejected when its ROUGE-L
#: F1 with any pool instruction is > 0.7 (Self-Instruct paper sec. 2.3; Alpaca
#: generate_instruction.py ``if max(rouge_scores) > 0.7``).
ROUGE_THRESHOLD = 0.7


def rouge_tokens(text: str) -> list[str]:
    """rouge_score's default tokenisation (no stemmer) of ``text``."""
    return _TOKEN_RE.findall(text.lower())


def fmeasure(precision: float, recall: float) -> float:
    """F1 in rouge_score's float order (``scoring.fmeasure``)."""
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_l_f1(lcs: int, target_len: int, prediction_len: int) -> float:
    """ROUGE-L F1 from an LCS length, bit-identical to rouge_score ``_score_lcs``."""
    if target_len == 0 or prediction_len == 0:
        return 0.0
    return fmeasure(lcs / prediction_len, lcs / target_len)


def match_masks(tokens: Sequence[int]) -> dict[int, int]:
    """Per symbol, the bit mask of the positions where it occurs in ``tokens``."""
    masks: dict[int, int] = {}
    for i, tok in enumerate(tokens):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    return masks


def lcs_length(masks: dict[int, int], m: int, other: Sequence[int]) -> int:
    """LCS length of the sequence described by ``masks`` (length ``m``) and ``other``.

    Bit-parallel (Hyyro 2004, eq. 3): ``V' = (V + (V & M)) | (V & ~M)``; the LCS is the
    number of zero bits of ``V`` within its ``m`` low bits.
    """
    if m == 0:
        return 0
    full = (1 << m) - 1
    v = full
    for tok in other:
        mask = masks.get(tok)
        if mask is None:
            continue
        u = v & mask
        if u:
            v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def lcs_length_dp(a: Sequence[object], b: Sequence[object]) -> int:
    """Textbook dynamic-programming LCS: the reference the bit-parallel one is tested against."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]
