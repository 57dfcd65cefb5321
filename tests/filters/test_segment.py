"""Segmenters: words and sentences of known sentences in Chinese, Japanese, Korean and Thai;
the rule-based path for other languages and for no language; chunking; a missing package."""

from __future__ import annotations

import sys

import pytest

from dataforge.filters.text import count_sentences, split_sentences, split_words, words
from dataforge.lang import segment
from dataforge.lang.segment import SegmenterMissing, chunks, cjk_sentences, spaced_sentences


@pytest.mark.parametrize(("lang", "text", "expected"), [
    # jieba's dictionary: 北京大学 and 自然语言 are single entries
    ("zh", "我们在北京大学学习自然语言处理。", ["我们", "在", "北京大学", "学习", "自然语言", "处理", "。"]),
    # Sudachi, split mode A: the shortest units, as spaCy's Japanese tokenizer gives
    ("ja", "東京都に住んでいます。", ["東京", "都", "に", "住ん", "で", "い", "ます", "。"]),
    # Kiwi: morphemes, as surface slices of the text (the particle 는 split from 저)
    ("ko", "저는 학생이에요.", ["저", "는", "학생", "이", "에요", "."]),
    # newmm: ข้าวผัด (fried rice) is one dictionary word; whitespace is dropped
    ("th", "ผมชอบกินข้าวผัดมาก วันนี้อากาศดี", ["ผม", "ชอบ", "กิน", "ข้าวผัด", "มาก", "วันนี้", "อากาศ", "ดี"]),
])
def test_dedicated_segmenters_split_known_sentences(lang: str, text: str, expected: list[str]) -> None:
    assert split_words(text, language=lang) == expected
    assert words(text, lang) == tuple(expected)


def test_unsegmented_cjk_is_one_word_without_a_language() -> None:
    # the English rules (datatrove's defaults): a run of Han characters is one token
    assert split_words("我们在北京大学学习自然语言处理。") == ["我们在北京大学学习自然语言处理", "。"]
    assert words("我们在北京大学学习。", "de") == words("我们在北京大学学习。")  # spaced languages: same rules


def test_space_delimited_languages_keep_the_rule_based_splitter() -> None:
    text = "Alle Menschen sind frei und gleich an Würde und Rechten geboren."
    assert split_words(text, language="de") == split_words(text) == [
        "Alle", "Menschen", "sind", "frei", "und", "gleich", "an", "Würde", "und", "Rechten", "geboren", "."]


def test_cjk_sentences_end_at_full_stops_with_closing_quotes_and_newlines() -> None:
    text = "我们在北京大学学习。今天天气很好！他说：“好的。”然后走了\n第二行"
    assert cjk_sentences(text) == ["我们在北京大学学习。", "今天天气很好！", "他说：“好的。”", "然后走了", "第二行"]
    assert count_sentences(text, language="zh") == 5
    assert split_sentences("すべての人間は自由である。人間は理性を授けられている。", language="ja") == [
        "すべての人間は自由である。", "人間は理性を授けられている。"]
    assert cjk_sentences("") == [] and count_sentences("", language="ja") == 0


def test_thai_and_korean_sentences_end_at_spaces_or_marks() -> None:
    assert spaced_sentences("ผมชอบกินข้าวผัดมาก วันนี้อากาศดี") == ["ผมชอบกินข้าวผัดมาก", "วันนี้อากาศดี"]
    assert split_sentences("안녕하세요. 저는 학생입니다. 3.5점", language="ko") == ["안녕하세요.", "저는 학생입니다.", "3.5점"]


def test_chunks_cut_at_line_ends_under_the_byte_limit() -> None:
    text = "あ" * 10 + "\n" + "い" * 10 + "\n" + "う" * 30
    pieces = list(chunks(text, max_bytes=40))  # 3 bytes a character
    assert "".join(pieces) == text
    assert all(len(p.encode()) <= 40 for p in pieces)
    assert list(chunks("short", max_bytes=40)) == ["short"]


def test_long_japanese_document_is_segmented_in_pieces() -> None:
    # Sudachi refuses input over 49,149 bytes: a 90 KB document must still split
    line = "東京都に住んでいます。" * 100 + "\n"
    toks = split_words(line * 30, language="ja")
    assert len(toks) == 8 * 100 * 30


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    segment.segmenter.cache_clear()
    monkeypatch.setitem(sys.modules, "pythainlp", None)  # import fails as if not installed
    try:
        with pytest.raises(SegmenterMissing, match=r"language 'th'.*pip install 'dataforge\[multilingual\]'"):
            split_words("ผมชอบกินข้าวผัด", language="th")
    finally:
        segment.segmenter.cache_clear()
