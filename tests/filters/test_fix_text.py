"""fix_text (ftfy, datatrove's FTFYFormatter options) and normalize_text."""

from __future__ import annotations

import json
from pathlib import Path

import ftfy
import pytest
from pydantic import ValidationError

from dataforge.filters.fix_text import FixTextParams, NormalizeTextParams, ftfy_config, normalize
from tests.filters.util import GOOD, run


def test_fix_text_repairs_mojibake_and_counts_it(make_stage) -> None:
    stage = make_stage("fix_text")
    # UTF-8 bytes decoded as Windows-1252: the commonest mojibake on the web
    broken = "The cafÃ©â€™s menu â€” â€œcrÃ¨me brÃ»lÃ©eâ€\x9d for 5â‚¬."
    out = run(stage, broken, GOOD)
    assert out[0].text == "The café’s menu — “crème brûlée” for 5€."
    assert out[1].text == GOOD  # clean text passes unchanged
    counts = stage.ctx.stats.to_dict()
    assert counts["0:fix_text"]["web"]["changed"] == 1


def test_fix_text_keeps_style_choices_off_like_datatrove(make_stage) -> None:
    # curly quotes, ligatures, full-width punctuation and CRLF are left as written
    text = "“Quoted” ﬁne text。Ｆull width\r\nnext line"
    assert run(make_stage("fix_text"), text)[0].text == text
    # ...and each is ftfy's own fix when switched on
    assert run(make_stage("fix_text", uncurl_quotes=True), text)[0].text.startswith('"Quoted"')
    assert "fine" in run(make_stage("fix_text", fix_latin_ligatures=True), text)[0].text


def test_fix_text_is_ftfy_on_real_documents(make_stage, data_dir: Path) -> None:
    """The stage's output is ftfy.fix_text with the same config, on real web documents
    (datatrove's FTFYFormatter calls the same function with the same options)."""
    texts = [json.loads(line)["text"] for line in open(data_dir / "c4/tiny_c4_sample.jsonl", encoding="utf-8")]
    config = ftfy_config(FixTextParams())
    out = run(make_stage("fix_text"), *texts)
    assert [d.text for d in out] == [ftfy.fix_text(t, config=config) for t in texts]


def test_fix_text_drops_documents_left_empty(make_stage) -> None:
    stage = make_stage("fix_text")
    assert run(stage, "\x1b[31m\x1b[0m") == []  # only terminal escapes
    assert stage.ctx.stats.to_dict()["0:fix_text"]["web"]["dropped.empty"] == 1


def test_fix_text_options_are_checked() -> None:
    with pytest.raises(ValidationError):
        FixTextParams(normalization="NFX")
    with pytest.raises(ValidationError):
        FixTextParams(max_decode_length=0)
    with pytest.raises(ValidationError):
        FixTextParams(unknown=True)


# ---- normalize_text ----------------------------------------------------------------------------
def test_normalize_unicode_forms() -> None:
    decomposed = "Cafe\u0301"  # e + combining acute
    assert normalize(decomposed, NormalizeTextParams()) == "Café"
    assert normalize(decomposed, NormalizeTextParams(unicode=None)) == decomposed
    assert normalize("ﬁ Ｆ ²", NormalizeTextParams(unicode="NFKC")) == "fi F 2"
    assert normalize("ﬁ Ｆ ²", NormalizeTextParams()) == "ﬁ Ｆ ²"  # NFC leaves compatibility characters


def test_normalize_control_and_invisible_characters() -> None:
    text = "zero\u200bwidth\x00 soft\u00adhyphen\x07 bell\ttab"
    assert normalize(text, NormalizeTextParams()) == "zerowidth softhyphen bell tab"
    assert normalize(text, NormalizeTextParams(control_chars=False, normalize_spaces=False)) == text


def test_normalize_whitespace() -> None:
    text = "  a\u00a0\u00a0b\u3000c   \r\nline two   \r\n\r\n\r\n\r\nlast\u2028x  "
    assert normalize(text, NormalizeTextParams()) == "a b c\nline two\n\nlast\nx"
    assert normalize(text, NormalizeTextParams(max_newlines=None)) == "a b c\nline two\n\n\n\nlast\nx"
    assert normalize("a\n\n\nb", NormalizeTextParams(max_newlines=1)) == "a\nb"
    kept = normalize(text, NormalizeTextParams(normalize_spaces=False, collapse_spaces=False, strip=False,
                                               max_newlines=None))
    assert kept == text


def test_normalize_text_stage_counts_and_drops(make_stage) -> None:
    stage = make_stage("normalize_text")
    out = run(stage, GOOD, "a  b", " \u200b\n\t ")
    assert [d.text for d in out] == [GOOD, "a b"]
    counts = stage.ctx.stats.to_dict()["0:normalize_text"]["web"]
    assert counts["changed"] == 2 and counts["dropped.empty"] == 1


def test_normalize_options_are_checked() -> None:
    with pytest.raises(ValidationError):
        NormalizeTextParams(max_newlines=0)
    with pytest.raises(ValidationError):
        NormalizeTextParams(unicode="nfc")
