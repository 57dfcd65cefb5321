"""Bad input goes through every filter without an exception, with documented outcomes."""

from __future__ import annotations

import pytest

from dataforge.registry import STAGES
from tests.filters.util import GOOD, doc

FILTERS = ["langid", "gopher_quality", "gopher_repetition", "c4", "fineweb_quality", "url_filter", "pii",
           "quality_classifier"]
CJK = "数据清洗是训练语言模型的重要步骤。我们需要高质量的文本，而不是垃圾网页。\n日本語のテキストもここにあります。"
BAD = {
    "empty": "",
    "whitespace": " \n\t\r\n \u3000 ",
    "symbols": "### *** !!! ... --- ??? ||| ©®™ 🙂🙂🙂",
    "surrogates": "invalid \udcff\udcfe UTF-8 decoded with surrogateescape " + GOOD,
    "cjk": CJK,
}


def test_registry_names_point_here() -> None:
    assert all(STAGES[name].startswith("dataforge.filters.") for name in FILTERS)


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("kind", list(BAD))
def test_bad_text_does_not_raise(make_stage, name: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage(name)
    out = list(stage.process([doc(BAD[kind], url="http://例子.测试/路径")]))
    stage.close()
    assert len(out) <= 1


@pytest.mark.parametrize(
    ("name", "reasons"),
    [
        ("langid", {"empty": "low_score", "symbols": "low_score", "cjk": "wrong_language"}),
        ("gopher_quality", {"empty": "short_doc", "whitespace": "short_doc", "symbols": "short_doc",
                            "cjk": "short_doc"}),
        ("gopher_repetition", {"empty": "empty"}),
        ("c4", {"empty": "too_few_sentences", "symbols": "too_few_sentences", "cjk": "too_few_sentences"}),
        ("fineweb_quality", {"empty": "empty", "whitespace": "empty", "symbols": "line_punct_ratio"}),
    ],
)
def test_documented_outcomes(make_stage, name: str, reasons: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage(name)
    for kind, reason in reasons.items():
        list(stage.process([doc(BAD[kind], url="http://example.com")]))
        assert stage.ctx.stats.get(f"0:{name}", f"dropped.{reason}") >= 1, (kind, reason)


def test_cjk_page_outcomes_match_datatrove(make_stage) -> None:  # type: ignore[no-untyped-def]
    # unspaced text: each line is one or two "words"; datatrove 0.10 gives the same reasons
    page = "\n".join([CJK.splitlines()[0]] + [f"第{i}段：这是一个足够长的中文句子，用来测试过滤器的行为是否正常。" for i in range(8)])
    expected = {"gopher_repetition": "top_3_gram", "fineweb_quality": "list_ratio", "gopher_quality": "short_doc",
                "c4": "too_few_sentences"}
    for name, reason in expected.items():
        stage = make_stage(name)
        assert list(stage.process([doc(page)])) == []
        assert stage.ctx.stats.get(f"0:{name}", f"dropped.{reason}") == 1


def test_twenty_megabyte_document(make_stage) -> None:  # type: ignore[no-untyped-def]
    big = (GOOD + "\n") * (20_000_000 // (len(GOOD) + 1))
    for name in FILTERS:
        stage = make_stage(name)
        out = list(stage.process([doc(big, url="http://example.com/big")]))
        assert len(out) <= 1, name
    # one 20 MB "word" (no spaces at all)
    blob = "x" * 20_000_000
    for name in ("gopher_quality", "gopher_repetition", "c4", "fineweb_quality", "pii"):
        list(make_stage(name).process([doc(blob)]))
