"""c4_badwords: C4's bad-words filter with the bundled LDNOOBW lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from dataforge.filters.badwords import (BadWordsParams, C4BadWords, MissingLanguageError, compiled, keep_anyway,
                                        list_languages, load_words, trie_pattern)
from tests.filters.util import GOOD, doc, run

LISTS = Path(__file__).resolve().parents[2] / "data" / "badwords" / "ldnoobw"


def test_bundled_lists_and_license() -> None:
    langs = list_languages(str(LISTS))
    assert len(langs) == 28 and "en" in langs and "zh" in langs and "LICENSE" not in langs
    assert "Attribution 4.0 International" in (LISTS / "LICENSE").read_text(encoding="utf-8")
    assert "性" not in load_words(LISTS / "zh")  # datatrove's allow-list applies to every list


def test_drops_a_page_with_a_listed_word_and_keeps_clean_text(make_stage) -> None:
    stage = make_stage("c4_badwords")
    out = run(stage, GOOD, "This page is about a Dildo shop in town.", "Scunthorpe is a town in England.")
    assert [d.id for d in out] == ["d0", "d2"]  # a listed word inside a longer word does not count
    counts = stage.ctx.stats.to_dict()["0:c4_badwords"]["web"]
    assert counts["dropped.badwords"] == 1 and counts["badwords.en"] == 1
    sample = (stage.ctx.publish_dir / "rejected" / "0_c4_badwords" / "t0.jsonl").read_text(encoding="utf-8")
    assert json.loads(sample)["value"] == "dildo"  # the matched entry is recorded


def test_word_boundaries_are_non_word_characters() -> None:
    pat = compiled(str(LISTS / "en"), False)
    assert pat.search("dildo") and pat.search("(dildo)") and pat.search("a dildo.")
    assert not pat.search("dildos") and not pat.search("xdildo") and not pat.search("dildo_x")
    assert pat.search("2 girls 1 cup") and not pat.search("2 girls 1 cupcake")  # phrases too


def test_unspaced_languages_match_inside_text(make_stage) -> None:
    zh = next(w for w in load_words(LISTS / "zh") if "\u4e00" <= w[0] <= "\u9fff")
    stage = make_stage("c4_badwords")
    out = run(stage, f"这是一个{zh}的例子", "这是一个很好的例子")
    assert len(out) == 2  # no meta.lang: English, whose entries need word boundaries
    docs = [doc(f"这是一个{zh}的例子", 0, lang="zh"), doc("这是一个很好的例子", 1, lang="zh")]
    stage = make_stage("c4_badwords")
    assert [d.id for d in stage.process(docs)] == ["d1"]


def test_language_from_meta_and_missing_languages(make_stage) -> None:
    de = doc("Das ist ein arschloch hier.", 0, lang="de")
    assert list(make_stage("c4_badwords").process([de])) == []
    assert list(make_stage("c4_badwords", lang_field="language").process([de])) == [de]  # English list
    unknown = doc("Some text.", 1, lang="xx")
    with pytest.raises(MissingLanguageError, match="'xx'.*fail_on_missing_language"):
        list(make_stage("c4_badwords").process([unknown]))
    stage = make_stage("c4_badwords", fail_on_missing_language=False)
    assert list(stage.process([unknown])) == [unknown]
    assert stage.ctx.stats.to_dict()["0:c4_badwords"]["web"]["missing_lang.xx"] == 1


def test_keep_fraction_is_per_document_and_stable(make_stage) -> None:
    texts = [f"page {i} about a dildo" for i in range(2000)]
    kept = [d.id for d in run(make_stage("c4_badwords", keep_fraction=0.25), *texts)]
    assert 400 < len(kept) < 600  # about a quarter
    assert kept == [d.id for d in run(make_stage("c4_badwords", keep_fraction=0.25), *texts)]
    assert run(make_stage("c4_badwords", keep_fraction=1.0), *texts[:5]) != []
    assert not keep_anyway(1, "x", 0.0) and keep_anyway(1, "x", 1.0)


def test_trie_regex_matches_what_the_flat_alternation_matches(data_dir: Path) -> None:
    """The trie regex decides like datatrove's ``(?:\\W|^)(w1|w2|...)(?:\\W|$)`` on real pages."""
    texts = [json.loads(line)["text"].lower() for line in open(data_dir / "c4/tiny_c4_sample.jsonl", encoding="utf-8")]
    texts += [w for w in load_words(LISTS / "en")]  # each entry alone
    texts += [f"x{w}" for w in load_words(LISTS / "en")[:50]] + [f"{w}s" for w in load_words(LISTS / "en")[:50]]
    words = load_words(LISTS / "en")
    flat = re.compile(r"(?:\W|^)({})(?:\W|$)".format("|".join(map(re.escape, words))))
    ours = compiled(str(LISTS / "en"), False)
    assert [bool(flat.search(t)) for t in texts] == [bool(ours.search(t)) for t in texts]
    assert sum(bool(ours.search(t)) for t in texts) > len(words)  # both outcomes occur
    assert re.fullmatch(trie_pattern(["ab", "abc", "b"]), "abc") and not re.fullmatch(trie_pattern(["ab"]), "a")


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        BadWordsParams(keep_fraction=1.5)
    with pytest.raises(ValidationError):
        BadWordsParams(keep_fraction=float("nan"))
    assert C4BadWords.check(BadWordsParams(lists=str(tmp_path / "none")))[0][0] == "lists"
    assert C4BadWords.check(BadWordsParams(default_language="xx"))[0][0] == "default_language"
    assert C4BadWords.check(BadWordsParams()) == []
