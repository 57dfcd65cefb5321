"""Exact, fast novelty filter: "ROUGE-L F1 > 0.7 against any pool item" without all pairs.

The originals score every new instruction against the whole pool with rouge-score
(Self-Instruct ``bootstrap_instructions.py``, Alpaca ``generate_instruction.py``): hours
at 50k instructions. The decision needs only the pool items that *could* exceed the
threshold, and an inverted index finds those:

* ``LCS <= overlap`` (the multiset intersection of the two token bags), so
  ``F1 = 2*LCS/(m+n) <= 2*overlap/(m+n)``: a pair whose bag-of-words bound is below
  the threshold can never be similar;
* length filter: ``overlap <= min(m, n)``, so ``n`` must lie in a band around ``m``;
* prefix filter: a candidate needing ``t`` shared tokens must share one of the query's
  first ``m - t + 1`` tokens in any fixed order; rarest-first keeps that prefix's
  posting lists short (AllPairs, Bayardo et al. 2007). Repeated tokens are indexed as
  (token, occurrence) so bags behave as sets.

Every pair that survives is scored exactly (``rouge.rouge_l_f1``), so decisions are
identical to rouge-score, including its float behaviour at exactly 0.7. The pruning
threshold keeps a 1e-9 margin below the decision threshold: bounds are pruned only
when they are certainly below it, never on a float tie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .rouge import ROUGE_THRESHOLD, lcs_length, match_masks, rouge_l_f1, rouge_tokens

_MARGIN = 1e-9  # prune only bounds certainly below the threshold (float ties go to exact scoring)
TOP_K_POSTINGS = 500  # provenance only: postings read per query (rarest words first) for the most similar


@dataclass
class Verdict:
    """The outcome of checking one text against the pool."""

    novel: bool
    #: pool index -> exact ROUGE-L F1, best first: the first match above the threshold
    #: when rejected; the ``top_k`` most similar items when asked for.
    similar: list[tuple[int, float]] = field(default_factory=list)
    scored: int = 0  # pairs scored exactly (the rest were ruled out by the index)


class NoveltyIndex:
    """A growing pool of texts with an inverted index over their ROUGE tokens.

    >>> idx = NoveltyIndex()
    >>> idx.add("Give three tips for staying healthy.")
    0
    >>> idx.check("Give three tips for staying healthy!").novel
    False
    """

    def __init__(self, threshold: float = ROUGE_THRESHOLD, *, top_k_postings: int = TOP_K_POSTINGS) -> None:
        self.threshold = threshold
        self.top_k_postings = top_k_postings
        self._prune_below = threshold - _MARGIN
        self.texts: list[str] = []
        self._vocab: dict[str, int] = {}
        self._tokens: list[list[int]] = []
        self._keys: list[frozenset[int]] = []
        self._postings: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str) -> int:
        """Add ``text`` to the pool; returns its index."""
        ids = [self._vocab.setdefault(tok, len(self._vocab)) for tok in rouge_tokens(text)]
        keys = _bag_keys(ids)
        idx = len(self.texts)
        self.texts.append(text)
        self._tokens.append(ids)
        self._keys.append(keys)
        for key in keys:
            self._postings.setdefault(key, []).append(idx)
        return idx

    def check(self, text: str, *, top_k: int = 0, exclude: frozenset[int] = frozenset()) -> Verdict:
        """Is ``text`` novel (ROUGE-L F1 <= threshold against every pool item but those in
        ``exclude``, e.g. the instruction it was evolved from)? Exact.

        With ``top_k`` > 0 a novel verdict also lists up to ``top_k`` most similar pool items
        with exact scores, for provenance: best-first over the bag-of-words bound among
        the items sharing one of the text's rarer tokens (at most ``top_k_postings``
        postings are read, so a common word never makes this a scan of the pool).
        """
        toks = rouge_tokens(text)
        m = len(toks)
        # Unknown tokens cannot match any pool item; negative ids keep them distinct.
        ids = [self._vocab.get(tok, -1 - i) for i, tok in enumerate(toks)]
        verdict = self._check_decision(ids, m, exclude)
        if top_k > 0 and verdict.novel and m and self.texts:  # a rejection already names its match
            verdict.similar = self._top_k(ids, top_k)
        return verdict

    def check_and_add(self, text: str, *, top_k: int = 0) -> Verdict:
        """``check`` then, when novel, ``add`` (new items join the pool at once)."""
        verdict = self.check(text, top_k=top_k)
        if verdict.novel:
            self.add(text)
        return verdict

    # -- decision only: prefix + length + bag bound, then exact scoring ----------------

    def _check_decision(self, ids: list[int], m: int, exclude: frozenset[int] = frozenset()) -> Verdict:
        if m == 0 or not self.texts:
            return Verdict(novel=True)
        known = [k for k in _bag_keys(ids) if k >= 0]
        t_min = _min_overlap(m, self._prune_below)
        if t_min is None or len(known) < t_min:
            return Verdict(novel=True)
        known.sort(key=lambda k: len(self._postings.get(k, ())))
        prefix = known[: len(known) - t_min + 1]
        qkeys = frozenset(known)
        masks = match_masks(ids)
        n_lo, n_hi = _length_band(m, self._prune_below)
        seen: set[int] = set(exclude)
        scored = 0
        for key in prefix:
            for idx in self._postings.get(key, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                cand = self._tokens[idx]
                n = len(cand)
                if n < n_lo or n > n_hi:
                    continue
                overlap = len(qkeys & self._keys[idx])
                if 2 * overlap / (m + n) < self._prune_below:
                    continue
                scored += 1
                score = rouge_l_f1(lcs_length(masks, m, cand), m, n)
                if score > self.threshold:
                    return Verdict(novel=False, similar=[(idx, score)], scored=scored)
        return Verdict(novel=True, scored=scored)

    # -- top-k for provenance: best-first over the bound -------------------------------

    def _top_k(self, ids: list[int], top_k: int) -> list[tuple[int, float]]:
        m = len(ids)
        keys = sorted((k for k in _bag_keys(ids) if k >= 0), key=lambda k: len(self._postings.get(k, ())))
        shared: dict[int, int] = {}
        budget = self.top_k_postings
        for key in keys:  # rarest first; overlaps counted while reading
            posting = self._postings.get(key, ())
            if shared and len(posting) > budget:
                break
            budget -= len(posting)
            for idx in posting:
                shared[idx] = shared.get(idx, 0) + 1
        lengths = self._tokens
        bounded = sorted(((2 * o / (m + len(lengths[i])), i) for i, o in shared.items()),
                         key=lambda t: (-t[0], t[1]))
        masks = match_masks(ids)
        best: list[tuple[int, float]] = []
        for bound, idx in bounded:
            if len(best) >= top_k and best[-1][1] >= bound:
                break
            cand = self._tokens[idx]
            best.append((idx, rouge_l_f1(lcs_length(masks, m, cand), m, len(cand))))
            best.sort(key=lambda t: (-t[1], t[0]))
            del best[top_k:]
        return [b for b in best if b[1] > 0]


def _bag_keys(ids: list[int]) -> frozenset[int]:
    """The token bag as a set: the j-th repeat of token t becomes ``(j << 32) | t``."""
    seen: dict[int, int] = {}
    keys = []
    for tok in ids:
        j = seen.get(tok, 0)
        seen[tok] = j + 1
        keys.append((j << 32) | tok if tok >= 0 else tok)
    return frozenset(keys)


def _required_overlap(m: int, n: int, lo: float) -> int:
    """Fewest shared tokens for ``2*o/(m+n) >= lo`` (rounded down: never too strict)."""
    return max(1, math.ceil(lo * (m + n) / 2 - 1e-6))


def _min_overlap(m: int, lo: float) -> int | None:
    """The smallest overlap any pool item (of any length) needs to reach ``lo``; None if none can."""
    feasible = [t for n in range(1, m + 1) if (t := _required_overlap(m, n, lo)) <= n]
    return min(feasible) if feasible else None


def _length_band(m: int, lo: float) -> tuple[int, int]:
    """Pool lengths n with ``2*min(m,n)/(m+n) >= lo`` (widened by one each side)."""
    if lo <= 0:
        return 0, 1 << 62
    return max(1, math.floor(lo * m / (2 - lo)) - 1), math.ceil((2 - lo) * m / lo) + 1
