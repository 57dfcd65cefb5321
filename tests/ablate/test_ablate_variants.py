"""The edit grammar: each edit's effect on a real pipeline mapping, and each bad edit's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataforge import api
from dataforge.ablate.settings import read_pipeline
from dataforge.ablate.variants import apply_edit, build_variants, parse_cli_variant
from dataforge.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw() -> dict:
    mapping, _, _ = read_pipeline(REPO / "pipelines" / "pretrain_mix.yaml")
    return mapping


def names(raw: dict) -> list[str]:
    return [next(iter(s)) if isinstance(s, dict) else s for s in raw["stages"]]


def test_full_is_the_pipeline_unchanged_and_a_copy(raw: dict) -> None:
    v = apply_edit(raw, "full", "full")
    assert v.raw == raw and v.removed == ()
    v.raw["stages"].pop()
    assert names(raw)[-1] == "tokenize"  # the original is not touched


@pytest.mark.parametrize("edit", ["raw", "only=read"])
def test_raw_keeps_only_mix_and_tokenize(raw: dict, edit: str) -> None:
    v = apply_edit(raw, "raw", edit)
    assert names(v.raw) == ["mix", "tokenize"]
    assert "12:minhash_dedup" in v.removed and "0:fix_text" in v.removed
    api.load(v.raw, output="/tmp/never-written")  # still a valid pipeline


def test_only_keeps_the_named_stages_plus_mix_and_tokenize(raw: dict) -> None:
    v = apply_edit(raw, "lang", "only=langid,minhash_dedup")
    assert names(v.raw) == ["langid", "minhash_dedup", "mix", "tokenize"]


@pytest.mark.parametrize("edit", ["-paragraph_dedup,minhash_dedup", "-paragraph_dedup,-minhash_dedup",
                                  "-11:paragraph_dedup;-12:minhash_dedup"])
def test_removing_stages_by_name_or_label(raw: dict, edit: str) -> None:
    v = apply_edit(raw, "no-dedup", edit)
    assert "minhash_dedup" not in names(v.raw) and "paragraph_dedup" not in names(v.raw)
    assert len(v.raw["stages"]) == len(raw["stages"]) - 2
    assert v.removed == ("11:paragraph_dedup", "12:minhash_dedup")


def test_setting_an_option_parses_yaml_and_keeps_the_others(raw: dict) -> None:
    v = apply_edit(raw, "t", "quality_classifier.top_fraction=0.5;langid.languages=[en, de]")
    stages = {next(iter(s)): s[next(iter(s))] for s in v.raw["stages"] if isinstance(s, dict)}
    assert stages["quality_classifier"]["top_fraction"] == 0.5
    assert stages["quality_classifier"]["sources"] == ["commoncrawl", "fineweb", "c4"]
    assert stages["langid"]["languages"] == ["en", "de"]
    assert apply_edit(raw, "e", "langid.min_score=1e-1").raw["stages"][1]["langid"]["min_score"] == 0.1


def test_input_setting_changes_the_mix(raw: dict) -> None:
    v = apply_edit(raw, "more-c4", "inputs.c4.weight=0.5")
    assert v.raw["inputs"]["c4"]["weight"] == 0.5 and raw["inputs"]["c4"]["weight"] == 0.15


@pytest.mark.parametrize(("edit", "message"), [
    ("-minhash", "'minhash' is not a stage of this pipeline (its stages: 0:fix_text, 1:langid"),
    ("nosuch.x=1", "'nosuch' is not a stage"),
    ("langid.min_score=.nan", "not a finite number"),
    ("langid.min_score=.inf", "not a finite number"),
    ("langid.languages=[en, .nan]", "not a finite number"),
    ("langid.min_score=[unclosed", "not valid YAML"),
    ("-tokenize", "must keep 'tokenize'"),
    ("-langid;langid.min_score=0.5", "removed by this variant"),
    ("inputs.nosuch.weight=1", "'nosuch' is not an input"),
    ("inputs.c4=1", "name the setting"),
    ("threshold", "cannot read edit 'threshold'"),
    ("=0.8", "write STAGE.option=VALUE"),
    ("-", "empty stage name"),
    ("   ", "empty edit"),
])
def test_bad_edits_name_the_variant_and_what_is_wrong(raw: dict, edit: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        apply_edit(raw, "bad", edit, source="p.yaml")
    text = str(exc.value.problems[0])
    assert message in text, text
    assert "ablate.variants.bad" in text and text.startswith("p.yaml")


@pytest.mark.parametrize("name", ["", "../up", "a/b", "-x", "x" * 65, "sp ace"])
def test_variant_names_that_cannot_be_folders_are_refused(raw: dict, name: str) -> None:
    with pytest.raises(ConfigError, match="variant name"):
        apply_edit(raw, name, "full")


def test_build_variants_reports_every_problem_at_once(raw: dict) -> None:
    with pytest.raises(ConfigError) as exc:
        build_variants(raw, [("a", "-nope"), ("b", "full"), ("b", "raw"), ("c", "x.y=.nan")], source="p.yaml")
    keys = [p.key for p in exc.value.problems]
    assert keys == ["ablate.variants.a", "ablate.variants.b", "ablate.variants.c"]


def test_build_variants_needs_two(raw: dict) -> None:
    with pytest.raises(ConfigError, match="at least two"):
        build_variants(raw, [("full", "full")], source="p.yaml")
    with pytest.raises(ConfigError, match="no variants"):
        build_variants(raw, [], source="p.yaml")
    assert [v.name for v in build_variants(raw, [("full", "full"), ("raw", "raw")], source="p")] == ["full", "raw"]


def test_cli_variant_syntax() -> None:
    assert parse_cli_variant("full") == ("full", "full")
    assert parse_cli_variant("no-dedup=-minhash_dedup") == ("no-dedup", "-minhash_dedup")
    assert parse_cli_variant("t=a.b=c=d") == ("t", "a.b=c=d")
    with pytest.raises(ConfigError, match="NAME=EDIT"):
        parse_cli_variant("minhash_dedup")


def test_an_option_the_stage_does_not_have_is_refused_when_the_variant_is_validated(raw: dict) -> None:
    v = apply_edit(raw, "typo", "minhash_dedup.treshold=0.8")  # the grammar passes it ...
    with pytest.raises(ConfigError, match="treshold"):  # ... the pipeline loader names it
        api.load(v.raw, output="/tmp/never-written")
