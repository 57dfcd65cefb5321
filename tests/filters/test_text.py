"""The word splitter reproduces spaCy's English tokenizer on the cases that move counts.

Expected token lists are what ``spacy.blank("en")`` (spaCy 3.8) returns for the same
strings; test_conformance.py checks whole documents against datatrove."""

from __future__ import annotations

import pytest

from dataforge.filters.text import count_sentences, split_sentences, words


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, world! I don't can't won't it's John's.",
         ["Hello", ",", "world", "!", "I", "do", "n't", "ca", "n't", "wo", "n't", "it", "'s", "John", "'s", "."]),
        ("e.g. U.S. Mr. Smith A. well-known 3.5 $100 100% (see http://x.com/a?b=1). foo@bar.com",
         ["e.g.", "U.S.", "Mr.", "Smith", "A.", "well", "-", "known", "3.5", "$", "100", "100", "%", "(", "see",
          "http://x.com/a?b=1", ")", ".", "foo@bar.com"]),
        ("Wait... what?! \"quoted\" ‘curly’", ["Wait", "...", "what", "?", "!", '"', "quoted", '"', "‘", "curly", "’"]),
        ("a/b 1-2 x:y 10km 5pm 2+3 #hash :) <3 ....",
         ["a", "/", "b", "1", "-", "2", "x", ":", "y", "10", "km", "5", "pm", "2", "+", "3", "#", "hash", ":)",
          "<3", "...."]),
        ("word.Another a.b.c.d MR. ph.D 1,000 aa,bb", ["word", ".", "Another", "a.b.c.d", "MR", ".", "ph", ".", "D",
                                                        "1,000", "aa", ",", "bb"]),
        ("#### ---- *** … •item", ["#", "#", "#", "#", "----", "*", "*", "*", "…", "•item"]),
        ("dont hes its well Ima", ["do", "nt", "he", "s", "its", "well", "I", "m", "a"]),
        ("vs.State (1): 50°C. COVID-19", ["vs.", "State", "(", "1", "):", "50", "°", "C", ".", "COVID-19"]),
        ("tab\there\n\nnew\u00a0line", ["tab", "here", "new", "line"]),
    ],
)
def test_words_match_spacy(text: str, tokens: list[str]) -> None:
    assert list(words(text)) == tokens


def test_cjk_run_is_one_word() -> None:
    assert list(words("数据清洗很重要。我们需要高质量的文本")) == ["数据清洗很重要。我们需要高质量的文本"]


def test_sentences_split_after_terminal_punctuation_only() -> None:
    text = "Hello world. This is Mr. Smith! And you?  Yes... no. e.g. this"
    assert split_sentences(text) == ["Hello world.", "This is Mr. Smith!", "And you?", "Yes... no.", "e.g. this"]
    assert count_sentences(text) == 5
    assert count_sentences("no terminal punctuation here") == 1
    assert count_sentences("") == 0
    assert count_sentences("Wow!!! Really?!") == 2
