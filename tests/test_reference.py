"""`dataforge stages NAME` and docs/stages.md (issue 21.5): options with their meaning and
source, drop reasons, per-language defaults; the docs kept in sync with the code."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from dataforge import registry
from dataforge.cli import main
from dataforge.reference import all_docs, option_docs, render_markdown

REPO = Path(__file__).resolve().parents[1]


def test_docs_stages_md_is_the_generated_reference() -> None:
    want = render_markdown(all_docs())
    have = (REPO / "docs" / "stages.md").read_text(encoding="utf-8")
    assert have == want, "docs/stages.md is out of date: dataforge stages --markdown > docs/stages.md"


def test_one_stage_in_full() -> None:
    r = CliRunner().invoke(main, ["stages", "gopher_quality"])
    assert r.exit_code == 0, r.output
    assert "min_doc_words: int | None = 50" in r.output
    assert 'Gopher A1.1: "fewer than 50 or more than 100,000 words"' in r.output  # the comment above the field
    assert "short_doc: fewer than `min_doc_words` words" in r.output  # a drop reason and its rule
    assert re.search(r"^  zh: min_avg_word_length=1, max_avg_word_length=5", r.output, re.M)  # FineWeb-2 zh
    assert "cmn_Hani.yml" in r.output  # ... with its source
    reader = CliRunner().invoke(main, ["stages", "jsonl"])
    assert reader.exit_code == 0 and "text_field: str = 'text'" in reader.output


def test_an_unknown_name_suggests_the_closest() -> None:
    r = CliRunner().invoke(main, ["stages", "gopher_qualty"])
    assert r.exit_code == 2
    assert "no stage or reader named 'gopher_qualty' (did you mean 'gopher_quality'?)" in r.output


def test_the_list_shows_real_defaults() -> None:
    r = CliRunner().invoke(main, ["stages"])
    assert r.exit_code == 0 and "PydanticUndefined" not in r.output


def test_every_option_a_reason_names_exists_and_every_option_is_explained() -> None:
    stages = registry.table("stages")
    undocumented = []
    for name in stages:
        cls = registry.resolve(stages, name)
        fields = set(cls.Params.model_fields)
        for reason, meaning in cls.reasons.items():
            for opt in re.findall(r"`([a-z_]+)`", meaning):
                assert opt in fields, f"{name}: reason {reason!r} names `{opt}`, not an option of {name}"
        undocumented += [f"{name}.{o.name}" for o in option_docs(cls.Params) if not o.doc]
    readers = registry.table("readers")
    for name in readers:
        undocumented += [f"{name}.{o.name}" for o in option_docs(registry.resolve(readers, name).Params) if not o.doc]
    # an option without a comment above it (or one over its group) is one a user cannot look up
    assert undocumented == []
