"""Gopher quality and repetition rules: each one fails a document built to fail it, with its
reason, and passes it once the rule is switched off (so the other rules let it through)."""

from __future__ import annotations

import pytest

from dataforge.filters.gopher import (
    GopherQualityParams,
    GopherRepetitionParams,
    gopher_quality_reason,
    gopher_repetition_reason,
)
from tests.filters.util import GOOD, run

SENT = "The committee of experts wrote to the mayor and asked that the council meet with residents"
SENT_LINES = "\n".join(f"{SENT} number {w}." for w in "one two three four five six seven eight".split())


def q(text: str, **options: object) -> str | None:
    return gopher_quality_reason(text, GopherQualityParams(**options))


def r(text: str, **options: object) -> str | None:
    return gopher_repetition_reason(text, GopherRepetitionParams(**options))


def test_good_text_passes_both() -> None:
    assert q(GOOD) is None
    assert r(GOOD) is None


@pytest.mark.parametrize(
    ("text", "reason", "off"),
    [
        ("The cat sat with the dog.", "short_doc", {"min_doc_words": None}),
        (GOOD, "long_doc", {"max_doc_words": None}),
        (" ".join(["to be or it is a of an ox"] * 8), "below_avg_word_length", {"min_avg_word_length": None}),
        (" ".join(["internationalization and the extraordinarily incomprehensible characteristics"] * 12),
         "above_avg_word_length", {"max_avg_word_length": None}),
        (GOOD + " page#section" * 25, "too_many_hashes", {"max_symbol_word_ratio": None}),
        ("wait... " * 30 + GOOD, "too_many_ellipsis",  # the "..." tokens also lower the alphabetic share
         {"max_symbol_word_ratio": None, "max_non_alpha_words_ratio": None}),
        ("\n".join(f"- {SENT} {i}" for i in range(10)), "too_many_bullets", {"max_bullet_lines_ratio": None}),
        ("\n".join(f"{SENT} and then {i}..." for i in range(10)), "too_many_end_ellipsis",
         {"max_ellipsis_lines_ratio": None}),
        (GOOD + " 1234" * 60, "below_alpha_threshold", {"max_non_alpha_words_ratio": None}),
        (" ".join(["Cats sleep often during warm afternoons while dogs bark loudly outside"] * 6),
         "few_stop_words", {"min_stop_words": None}),
    ],
)
def test_quality_rule_both_ways(text: str, reason: str, off: dict[str, object]) -> None:
    options = {"max_doc_words": 100} if reason == "long_doc" else {}
    assert q(text, **options) == reason
    assert q(text, **{**options, **off}) is None


def test_quality_counts_symbol_tokens_in_ratios_but_not_in_word_count() -> None:
    # 49 real words + punctuation tokens: still short (punctuation is not a word)
    text = " ".join(["the", "cat"] * 24 + ["end"]) + " . , ; ! ?" * 10
    assert q(text) == "short_doc"
    # one more word is 50: no longer short; the punctuation tokens now fail the alpha ratio
    assert q(text + " sat") == "below_alpha_threshold"
    assert q(text + " sat", max_non_alpha_words_ratio=None, min_stop_words=None) is None


def test_stop_words_are_case_sensitive_as_in_datatrove() -> None:
    text = " ".join(["The cat sat on a mat near The big house"] * 6)
    assert q(text) == "few_stop_words"  # "The" is not "the"
    assert q(text, stop_words=["The", "on"]) is None


@pytest.mark.parametrize(
    ("text", "reason", "off"),
    [
        (f"{SENT}.\n\n{SENT}.\n\n{SENT}.\n\nA different closing paragraph about something else.",
         "dup_para_frac", {"dup_para_frac": None}),
        (f"{SENT} {SENT}.\n\nShort one.\n\nShort two.\n\nShort three.\n\n{SENT} {SENT}.",
         "dup_para_char_frac", {"dup_para_char_frac": None}),
        (f"{SENT}.\n{SENT}.\n{SENT}.\nA different closing line about something else entirely.",
         "dup_line_frac", {"dup_line_frac": None, "dup_line_char_frac": None}),
        (f"{SENT} {SENT}.\nShort one.\nShort two.\nShort three.\n{SENT} {SENT}.",
         "dup_line_char_frac", {"dup_line_char_frac": None}),
    ],
)
def test_repetition_line_and_paragraph_rules(text: str, reason: str, off: dict[str, object]) -> None:
    assert r(text, top_n_grams=(), dup_n_grams=()) == reason
    # with the rule off the text passes, or another of the four duplicate rules catches it
    others = {"dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"} - {reason}
    got = r(text, top_n_grams=(), dup_n_grams=(), **off)
    assert got is None or got in others
    rest = {k: None for k in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")}
    assert r(text, top_n_grams=(), dup_n_grams=(), **rest) is None


def test_top_ngram_rule_both_ways() -> None:
    text = " ".join(f"big cat w{i}" for i in range(100))  # "big cat" covers over half the text
    assert r(text) == "top_2_gram"
    assert r(text, top_n_grams=((2, 0.9),)) is None


def test_duplicated_ngram_rule_both_ways() -> None:
    words = GOOD.split()[:40]
    text = " ".join(words * 2)  # the second copy repeats every 5-gram of the first
    assert r(text) == "duplicated_5_n_grams"
    assert r(text, dup_n_grams=()) is None


def test_empty_text_has_its_own_reason() -> None:
    assert r("") == "empty"


def test_stage_counts_reasons_per_source(make_stage) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("gopher_quality", sample_rejected=5)
    out = run(stage, GOOD, "too short", GOOD)
    assert [d.id for d in out] == ["d0", "d2"]
    assert stage.ctx.stats.get("0:gopher_quality", "dropped.short_doc", source="web") == 1
    rejected = stage.ctx.publish_dir / "rejected" / "0_gopher_quality" / "t0.jsonl"
    assert '"reason": "short_doc"' in rejected.read_text()
