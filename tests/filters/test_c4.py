"""C4: each line rule removes its line (and is counted), each page rule drops the page."""

from __future__ import annotations

import pytest

from dataforge.filters.c4 import C4Params, c4_clean
from tests.filters.util import run

S = "This line is a perfectly ordinary sentence of text."
BODY = "\n".join([S] * 5)


def clean(text: str, **options: object) -> tuple[str | None, str | None, dict[str, int]]:
    new, reason, removed = c4_clean(text, C4Params(**options))
    return new, reason, dict(removed)


@pytest.mark.parametrize(
    ("line", "reason", "off"),
    [
        ("No terminal punctuation on this line", "no_terminal_punct", {"filter_no_terminal_punct": False}),
        ("It trails off into an ellipsis...", "no_terminal_punct", {"filter_no_terminal_punct": False}),
        ("Two words.", "too_few_words", {"min_words_per_line": -1}),
        ("Please enable JavaScript to view this page.", "javascript", {"filter_javascript": False}),
        ("This site uses cookies to improve your visit.", "policy", {"filter_policy": False}),
        ("A link to " + "x" * 1001 + " was here.", "too_long_word", {"max_word_length": -1}),
    ],
)
def test_line_rules_both_ways(line: str, reason: str, off: dict[str, object]) -> None:
    new, drop, removed = clean(f"{BODY}\n{line}")
    assert drop is None and removed == {reason: 1} and new == BODY
    new, drop, removed = clean(f"{BODY}\n{line}", **off)
    assert drop is None and removed == {} and new == f"{BODY}\n{line}"


@pytest.mark.parametrize(
    ("line", "reason", "off"),
    [
        ("Lorem ipsum dolor sit amet, consectetur.", "lorem_ipsum", {"filter_lorem_ipsum": False}),
        ("The function returns {a: 1} to its caller.", "curly_bracket", {"filter_curly_bracket": False}),
    ],
)
def test_page_rules_both_ways(line: str, reason: str, off: dict[str, object]) -> None:
    assert clean(f"{BODY}\n{line}")[:2] == (None, reason)
    assert clean(f"{BODY}\n{line}", **off)[1] is None


def test_too_few_sentences_counts_sentences_not_lines() -> None:
    four = "\n".join([S] * 4)
    assert clean(four)[1] == "too_few_sentences"
    assert clean(four, min_num_sentences=4)[1] is None
    assert clean(four, min_num_sentences=-1)[1] is None
    assert clean("One sentence here. Two sentences here. Three here!\nFour and five. Here is five.")[1] is None


def test_citations_removed_from_kept_lines() -> None:
    new, _, _ = clean(f"{BODY}\nThe river floods every spring.[1] It is long.[citation needed]")
    assert new.endswith("The river floods every spring. It is long.")


def test_sentence_mode_applies_rules_to_sentences() -> None:
    text = " ".join([S] * 5) + " menu home contact"
    new, reason, removed = clean(text, split_paragraph=False)
    assert reason is None and removed == {"no_terminal_punct": 1} and new == " ".join([S] * 5)


def test_stage_rewrites_text_counts_lines_and_samples_rejects(make_stage) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("c4", sample_rejected=1)
    out = run(stage, f"Home\n{BODY}\nShare this", "Lorem ipsum dolor sit amet, consectetur.")
    assert [d.text for d in out] == [BODY]
    stats = stage.ctx.stats
    assert stats.get("0:c4", "lines_removed.no_terminal_punct") == 2
    assert stats.get("0:c4", "dropped.lorem_ipsum") == 1
    assert (stage.ctx.publish_dir / "rejected" / "0_c4" / "t0.jsonl").exists()
