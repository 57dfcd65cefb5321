"""Parsing and every filter, both outcomes, with the reason."""

from __future__ import annotations

import pytest

from dataforge.selfinstruct.parse import (instance_reason, instruction_reason, is_classification, parse_alpaca,
                                          parse_bootstrap, parse_instances, ALPACA_BLACKLIST,
                                          SELF_INSTRUCT_BLACKLIST)

OK = "Summarize the following news article in two sentences."


@pytest.mark.parametrize("inst,reason", [
    (OK, None),
    ("Write a short poem.", None),  # 4 words: kept
    ("Write a poem.", "too_short"),  # 3 words
    (" ".join(["word"] * 150), None),
    (" ".join(["word"] * 151), "too_long"),
    ("Describe the image of a sunset.", "blacklist"),
    ("Describe the imagery of a sunset.", None),  # whole words only
    ("Tell me how to go to the station.", "blacklist"),
    ("Write a program that adds two numbers.", "write_a_program"),
    ("Write a programme that adds two numbers.", "write_a_program"),  # prefix rule, as published
    ("\"Quote\" the following sentence back.", "starts_with_punctuation"),
    ("Él escribe una carta larga.", "starts_non_ascii"),
])
def test_instruction_rules(inst, reason):
    assert instruction_reason(inst, ALPACA_BLACKLIST) == reason


def test_blacklists():
    assert len(ALPACA_BLACKLIST) == 18 and len(SELF_INSTRUCT_BLACKLIST) == 13
    assert instruction_reason("Compose music for a short video.", ALPACA_BLACKLIST) == "blacklist"
    assert instruction_reason("Compose music for a short video.", SELF_INSTRUCT_BLACKLIST) is None


@pytest.mark.parametrize("inp,out,reason", [
    ("x", "y", None), ("", "y", None), ("same", "same", "output_equals_input"), ("x", "", "empty_output"),
    ("x", "Here are the steps:", "ends_with_colon"), ("Sentence:", "y", "ends_with_colon"),
])
def test_instance_rules(inp, out, reason):
    assert instance_reason(inp, out) == reason


def test_alpaca_parse_well_formed_truncated_and_malformed():
    text = (" Summarize the following news article in two sentences.\n4. Input:\nThe city opened a park.\n"
            "4. Output:\nA park opened.\n###\n5. Instruction: Name three primary colors please.\n5. Input:\n"
            "<noinput>\n5. Output:\nRed, blue and yellow.\n###\n6. Instruction: broken item without fields\n"
            "###\n7. Instruction: Explain why the sky looks blue.\n7. Input:\n<noinput>\n7. Output:\nBecause")
    items = parse_alpaca(text, "length", num_prompt=3)
    assert [i.reason for i in items] == [None, None, "malformed", "truncated"]
    assert (items[0].instruction, items[0].input, items[0].output) == (OK, "The city opened a park.", "A park opened.")
    assert items[1].input == ""  # <noinput>
    assert parse_alpaca(text, "stop", num_prompt=3)[3].reason is None  # not cut: the last one is kept
    # numbering must match the position: a "5." where "4." is expected is malformed
    assert parse_alpaca(" X y z w.\n5. Input:\n\n5. Output:\nok", "stop", num_prompt=3)[0].reason == "malformed"
    assert parse_alpaca("not a numbered list at all", "stop", num_prompt=3)[0].reason == "malformed"


def test_alpaca_output_side_checks():
    text = " Name three primary colors please.\n4. Input:\n<noinput>\n4. Output:\nThe colors are:"
    assert parse_alpaca(text, "stop", num_prompt=3)[0].reason == "ends_with_colon"
    text = " Repeat the given sentence back.\n4. Input:\nHello.\n4. Output:\nHello."
    assert parse_alpaca(text, "stop", num_prompt=3)[0].reason == "output_equals_input"


def test_alpaca_chat_echo_is_dropped_only_in_chat_mode():
    text = "###\n4. Instruction: Name three primary colors please.\n4. Input:\n<noinput>\n4. Output:\nRed."
    assert parse_alpaca(text, "stop", num_prompt=3, chat=True)[0].reason is None
    assert parse_alpaca(text, "stop", num_prompt=3, chat=False)[0].reason == "malformed"


def test_bootstrap_parse():
    text = " write a haiku about the sea.\n10. Classify the sentiment of a tweet.\n11 . Draw a cat.\n12. Hi there"
    items = parse_bootstrap(text, "stop", num_prompt=8)
    assert [(i.instruction, i.reason) for i in items] == [
        ("Write a haiku about the sea.", None), ("Classify the sentiment of a tweet.", None),
        ("Draw a cat.", "too_short"), ("Hi there", "too_short")]
    # capitalize() lower-cases the rest, as the original does
    assert parse_bootstrap(" Explain GDP to a Child please.", "stop", num_prompt=8)[0].instruction == \
        "Explain gdp to a child please."
    assert [i.reason for i in parse_bootstrap(text, "length", num_prompt=8)] == ["truncated"]
    assert parse_bootstrap("9. Plan a trip to the mountains.", "stop", num_prompt=8, chat=True)[0].instruction == \
        "Plan a trip to the mountains."


def test_classification_answer():
    assert is_classification(" Yes") and is_classification("YES\n")
    assert not is_classification(" No") and not is_classification("Yes, it is")


def test_generation_instances():
    text = "Example 1\nInput: 2 + 2\nOutput: 4\nExample 2\nInput: 3 + 3\nOutput: 6\nExample 3\nInput: 1 + 1\nOutput:"
    items, task = parse_instances(text, "stop", instruction=" Add the numbers. ", classification=False)
    assert task is None
    assert [(i.instruction, i.input, i.output, i.reason) for i in items] == [
        ("Add the numbers.", "2 + 2", "4", None), ("Add the numbers.", "3 + 3", "6", None),
        ("Add the numbers.", "1 + 1", "", "empty_output")]
    items, _ = parse_instances(text.rsplit("Example 3", 1)[0], "length", instruction="Add.", classification=False)
    assert [i.reason for i in items] == [None, "truncated"]
    items, _ = parse_instances("Output: just this", "stop", instruction="Say it.", classification=False)
    assert [(i.input, i.output) for i in items] == [("", "just this")]
    assert parse_instances("no markers here", "stop", instruction="x", classification=False) == ([], "no_instances")


def test_duplicate_and_conflicting_instances():
    dup = "Example 1\nInput: a\nOutput: b\nExample 2\nInput: a\nOutput: b"
    items, task = parse_instances(dup, "stop", instruction="x", classification=False)
    assert task is None and [i.reason for i in items] == [None, "duplicate_instance"]
    conflict = "Example 1\nInput: a\nOutput: b\nExample 2\nInput: a\nOutput: c"
    assert parse_instances(conflict, "stop", instruction="x", classification=False)[1] == \
        "same_input_different_output"


def test_classification_instances():
    text = " Positive\nSentence: I love it.\nClass label: Negative\nSentence: I hate it.\nClass label: Neutral"
    items, task = parse_instances("Class label:" + text, "stop", instruction="Classify.", classification=True)
    assert task is None
    assert [(i.input, i.output) for i in items] == [("Sentence: I love it.", "Positive"),
                                                   ("Sentence: I hate it.", "Negative"), ("", "Neutral")]
    assert parse_instances("Label: x", "stop", instruction="c", classification=True) == ([], "no_instances")
