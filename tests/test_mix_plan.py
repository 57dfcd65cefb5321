"""The mixture plan as a pure function of per-task counts and histograms: targets from
weights, budgets or temperature; the epoch cap with the shortfall redistributed or left;
the hash cut that lands the fractional epoch on its token target."""

from __future__ import annotations

import numpy as np
import pytest

from dataforge.mix import MixInputs, MixParams, plan_mixture
from dataforge.tokenize.hashing import HIST_BINS, hash_bin


def summary(**tokens: int) -> dict:
    return {"sources": {s: {"train_tokens": n, "train_docs": max(1, n // 100)} for s, n in tokens.items()}}


def uniform_hist(source: str, tokens: int) -> dict[str, np.ndarray]:
    h = np.zeros(HIST_BINS, dtype=np.int64)
    h[:] = tokens // HIST_BINS
    h[: tokens % HIST_BINS] += 1
    return {source: h}


INPUTS = MixInputs(("web", "books"), {"web": 3.0, "books": 1.0}, {"web": None, "books": None})


def test_weights_set_targets_and_rates() -> None:
    plan = plan_mixture(summaries=[summary(web=600_000), summary(books=100_000)],
                        hists=[uniform_hist("web", 600_000), uniform_hist("books", 100_000)],
                        params=MixParams(target_tokens=400_000), inputs=INPUTS, seed=1)
    assert plan.target == {"web": 300_000, "books": 100_000}
    assert plan.rate == pytest.approx({"web": 0.5, "books": 1.0})
    web = uniform_hist("web", 600_000)["web"]
    assert abs(int(web[: plan.cut["web"]].sum()) - 300_000) <= 10  # the cut lands within a bin of the target
    assert "books" not in plan.cut  # a whole epoch needs no cut


def test_the_cap_redistributes_or_leaves_the_shortfall() -> None:
    kw = dict(summaries=[summary(web=1_000_000, books=10_000)], hists=[], inputs=INPUTS, seed=1)
    plan = plan_mixture(params=MixParams(target_tokens=400_000, max_epochs=2), **kw)
    assert plan.target["books"] == 20_000 and plan.target["web"] == 380_000
    assert "short by 80,000 tokens (redistributed to the other sources)" in plan.warnings[0]
    left = plan_mixture(params=MixParams(target_tokens=400_000, max_epochs=2, shortfall="leave"), **kw)
    assert left.target == {"web": 300_000, "books": 20_000} and "(left short)" in left.warnings[0]


def test_budgets_and_temperature() -> None:
    budgets = MixInputs(("web", "books"), {"web": None, "books": None}, {"web": 1000, "books": 500})
    plan = plan_mixture(summaries=[summary(web=10_000, books=10_000)], hists=[], params=MixParams(),
                        inputs=budgets, seed=0)
    assert plan.target == {"web": 1000, "books": 500}
    t = plan_mixture(summaries=[summary(web=1_000_000, books=10_000)], hists=[],
                     params=MixParams(temperature=0.0, target_tokens=20_000), inputs=INPUTS, seed=0)
    assert t.target == {"web": 10_000, "books": 10_000}  # alpha 0: uniform over sources


def test_the_cut_selects_exactly_the_units_below_it() -> None:
    """parts() selects a document's unit iff its hash bin is below the cut: the token count the
    plan aimed at is what the tasks realise (each unit here is one 100-token document)."""
    ids = [f"d{i}" for i in range(5000)]
    h = np.zeros(HIST_BINS, dtype=np.int64)
    for i in ids:
        h[hash_bin(7, i)] += 100
    plan = plan_mixture(summaries=[summary(web=500_000)], hists=[{"web": h}],
                        params=MixParams(target_tokens=125_000),
                        inputs=MixInputs(("web",), {"web": 1.0}, {"web": None}), seed=7)
    chosen = sum(b - a for i in ids for a, b, _ in plan.parts(i, "web", 100))
    below = int(h[: plan.cut["web"]].sum())
    assert chosen == below and abs(chosen - 125_000) <= 200  # within one bin's documents of the target


def test_long_documents_are_sampled_in_pieces_ending_in_eos() -> None:
    plan = plan_mixture(summaries=[summary(books=100_000)], hists=[uniform_hist("books", 100_000)],
                        params=MixParams(target_tokens=30_000, piece_tokens=1000),
                        inputs=MixInputs(("books",), {"books": 1.0}, {"books": None}), seed=3)
    parts = plan.parts("book-1", "books", 100_000)
    assert 0 < len(parts) < 100
    assert all(b - a <= 1000 * 100 for a, b, _ in parts)
    assert all(eos == (b != 100_000) for a, b, eos in parts)  # a piece cut from its book ends in EOS
