"""Language ID with the bundled lid.176.ftz: several languages, meta fields, reasons, batching."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import zstandard

from dataforge.filters.langid import LangIdParams, lang_reason
from tests.filters.util import GOOD, run

# Article 1 of the Universal Declaration of Human Rights
UDHR = {
    "fr": "Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués de raison "
          "et de conscience et doivent agir les uns envers les autres dans un esprit de fraternité.",
    "de": "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und Gewissen "
          "begabt und sollen einander im Geist der Brüderlichkeit begegnen.",
    "es": "Todos los seres humanos nacen libres e iguales en dignidad y derechos y, dotados como están de razón "
          "y conciencia, deben comportarse fraternalmente los unos con los otros.",
    "ru": "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и "
          "совестью и должны поступать в отношении друг друга в духе братства.",
    "zh": "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。",
    "ja": "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。"
          "人間は、理性と良心とを授けられており、互いに同胞の精神をもって行動しなければならない。",
}


def finnish_docs(data_dir: Path) -> list[str]:
    raw = zstandard.ZstdDecompressor().stream_reader(open(data_dir / "multilingual" / "hplt-fi.jsonl.zst", "rb"))
    return [json.loads(line)["text"] for line in io.TextIOWrapper(raw, encoding="utf-8")][:5]


def test_identifies_several_languages(make_stage) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("langid", languages=None)
    out = run(stage, GOOD, *UDHR.values())
    assert [d.meta["lang"] for d in out] == ["en", *UDHR]
    assert all(0.65 <= d.meta["lang_score"] <= 1.0 for d in out)


def test_finnish_web_pages(make_stage, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("langid", languages=["fi"])
    out = run(stage, *finnish_docs(data_dir))
    assert len(out) == 5 and {d.meta["lang"] for d in out} == {"fi"}


def test_keeps_listed_languages_and_names_the_reason(make_stage) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("langid", languages=["en", "de"], batch_size=2)  # batches of 2 over 4 documents
    out = run(stage, GOOD, UDHR["de"], UDHR["fr"], "ok")
    assert [d.id for d in out] == ["d0", "d1"]
    stats = stage.ctx.stats
    assert stats.get("0:langid", "dropped.wrong_language") == 1
    assert stats.get("0:langid", "dropped.low_score") == 1  # "ok": a weak English guess


def test_newlines_do_not_break_prediction(make_stage) -> None:  # type: ignore[no-untyped-def]
    out = run(make_stage("langid"), GOOD.replace(" ", "\n"))
    assert out[0].meta["lang"] == "en"


def test_reason_rules() -> None:
    p = LangIdParams(languages=["en"], min_score=0.65)
    assert lang_reason({"en": 0.9}, "en", 0.9, p) is None
    assert lang_reason({"en": 0.65}, "en", 0.65, p) is None  # at the threshold: kept
    assert lang_reason({"en": 0.5}, "en", 0.5, p) == "low_score"
    assert lang_reason({"fr": 0.9}, "fr", 0.9, p) == "wrong_language"
    anything = LangIdParams(languages=None, min_score=0.3)
    assert lang_reason({"fr": 0.4}, "fr", 0.4, anything) is None
    assert lang_reason({"fr": 0.2}, "fr", 0.2, anything) == "low_score"


def test_low_threshold_uses_all_labels(make_stage) -> None:  # type: ignore[no-untyped-def]
    # below 0.5 a listed language may win without being the best label
    stage = make_stage("langid", languages=["en"], min_score=0.0)
    assert len(run(stage, UDHR["fr"])) == 1


def test_bad_model_path_is_a_config_error(make_stage) -> None:  # type: ignore[no-untyped-def]
    from dataforge.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        run(make_stage("langid", model="/nonexistent/lid.ftz"), GOOD)


def test_glotlid_format_model_labels_map_to_project_codes(tmp_path: Path, data_dir: Path, make_stage) -> None:  # type: ignore[no-untyped-def]
    """Any fastText model by path: one with GlotLID's labels (ISO 639-3 + script) gives
    lid.176-style codes in meta['lang'], the script in meta['lang_script']."""
    from dataforge.filters.fasttext_model import fasttext_module

    ml = data_dir / "multilingual"
    zh = [s for s in (ml / "clue-zh-100.txt").read_text(encoding="utf-8").splitlines() if s.strip()][:40]
    ja = [json.loads(s)["text"] for s in (ml / "fineweb2-ja-50.jsonl").read_text(encoding="utf-8").splitlines()][:40]
    en = (data_dir / "wiki" / "wiki_demo.txt").read_text(encoding="utf-8").splitlines()[:30]
    train = tmp_path / "train.txt"
    with open(train, "w", encoding="utf-8") as fh:
        for label, texts in (("cmn_Hani", zh), ("jpn_Jpan", ja), ("eng_Latn", en)):
            for t in texts:
                fh.write(f"__label__{label} {' '.join(t.split())[:2000]}\n")
    model = fasttext_module().train_supervised(input=str(train), minn=1, maxn=3, dim=16, epoch=25, lr=1.0, thread=1,
                                               seed=1, verbose=0)
    path = tmp_path / "glot.bin"
    model.save_model(str(path))
    stage = make_stage("langid", model=str(path), languages=["cmn_Hani", "ja"], min_score=0.5)
    assert stage.params.languages == ["zh", "ja"]
    out = run(stage, UDHR["zh"], UDHR["ja"], GOOD)
    assert [(d.meta["lang"], d.meta["lang_script"]) for d in out] == [("zh", "Hani"), ("ja", "Jpan")]
    assert stage.ctx.stats.get(stage.label, "dropped.wrong_language") == 1  # English, labelled en


def test_labels_of_one_language_in_two_scripts_add_up() -> None:
    from dataforge.filters.langid import label_scores

    scores, scripts = label_scores(["__label__zho_Hans", "__label__zho_Hant", "__label__jpn_Jpan"], [0.5, 0.3, 0.2])
    assert scores == {"zh": 0.8, "ja": 0.2} and scripts == {"zh": "Hans", "ja": "Jpan"}
    assert label_scores(["__label__de"], [0.9]) == ({"de": 0.9}, {})


def test_unknown_language_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language code 'english'"):
        LangIdParams(languages=["english"])
