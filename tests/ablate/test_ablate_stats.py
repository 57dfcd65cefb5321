"""Mean, spread and the noise rule, on hand-checkable numbers."""

from __future__ import annotations

import math

import pytest

from dataforge.ablate.stats import compare, lower_is_better, summarize, table


def test_summary_is_sample_std_and_drops_non_finite() -> None:
    s = summarize([1.0, 2.0, 3.0, float("nan"), float("inf")])
    assert (s["n"], s["dropped"], s["mean"], s["min"], s["max"]) == (3, 2, 2.0, 1.0, 3.0)
    assert s["std"] == pytest.approx(1.0)  # sqrt(((1-2)^2 + 0 + (3-2)^2) / (3-1))


def test_summary_of_nothing_and_of_one() -> None:
    assert summarize([])["mean"] is None
    one = summarize([5.0])
    assert one["mean"] == 5.0 and one["std"] is None


def test_a_difference_beyond_two_standard_errors_is_flagged_with_its_direction() -> None:
    base = summarize([3.00, 3.02, 3.04])  # std 0.02
    worse = summarize([3.20, 3.22, 3.24])  # +0.20, SE = sqrt(2 * 0.02^2 / 3) = 0.0163
    vs = compare(worse, base, metric="wiki/bpb")
    assert vs["diff"] == pytest.approx(0.20)
    assert vs["se"] == pytest.approx(math.sqrt(2 * 0.02**2 / 3))
    assert vs["beyond_noise"] is True and vs["better"] is False  # higher bpb is worse
    assert vs["df"] == pytest.approx(4.0)  # equal variances and n: Welch df = 2(n-1)
    assert compare(base, worse, metric="wiki/bpb")["better"] is True


def test_a_difference_within_noise_is_not_flagged() -> None:
    base = summarize([3.0, 3.1, 3.2])
    near = summarize([3.05, 3.15, 3.25])  # +0.05 against SE 0.082
    vs = compare(near, base, metric="wiki/bpb")
    assert vs["beyond_noise"] is False and vs["better"] is None


def test_accuracy_is_better_when_higher() -> None:
    assert not lower_is_better("arc/acc") and lower_is_better("wiki/bpb") and lower_is_better("wiki/loss")
    vs = compare(summarize([0.30, 0.31, 0.32]), summarize([0.20, 0.21, 0.22]), metric="arc/acc")
    assert vs["beyond_noise"] and vs["better"] is True


def test_one_seed_gives_no_verdict_and_zero_spread_decides_on_any_difference() -> None:
    assert compare(summarize([1.0]), summarize([2.0]), metric="x/bpb")["beyond_noise"] is None
    same = compare(summarize([1.0, 1.0]), summarize([1.0, 1.0]), metric="x/bpb")
    assert same["beyond_noise"] is False
    diff = compare(summarize([1.0, 1.0]), summarize([2.0, 2.0]), metric="x/bpb")
    assert diff["beyond_noise"] is True and diff["better"] is True and diff["t"] is None


def test_table_compares_every_variant_but_the_baseline() -> None:
    t = table({"full": [{"w/bpb": 3.0}, {"w/bpb": 3.1}], "raw": [{"w/bpb": 3.5}, {"w/bpb": 3.6}]}, baseline="full")
    assert "vs_baseline" not in t["full"]["w/bpb"]
    assert t["raw"]["w/bpb"]["vs_baseline"]["beyond_noise"] is True
    assert t["raw"]["w/bpb"]["values"] == [3.5, 3.6]
