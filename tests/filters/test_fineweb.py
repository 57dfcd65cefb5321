"""FineWeb's rules, each both ways with its reason."""

from __future__ import annotations

import pytest

from dataforge.filters.fineweb import FineWebQualityParams, fineweb_quality_reason
from tests.filters.util import GOOD, run

LONG = "This is a line that is comfortably longer than thirty characters"


def fw(text: str, **options: object) -> str | None:
    return fineweb_quality_reason(text, FineWebQualityParams(**options))


@pytest.mark.parametrize(
    ("text", "reason", "off"),
    [
        ("\n".join(f"{LONG} {i}" for i in range(10)), "line_punct_ratio", {"line_punct_thr": 0.0}),
        ("\n".join([f"{LONG}."] + [f"Short line {i}." for i in range(5)]), "short_line_ratio", {"short_line_thr": 1.0}),
        (GOOD + "\n" + GOOD.splitlines()[0], "char_dup_ratio", {"char_duplicates_ratio": 1.0}),
        ("\n".join([f"{LONG} number {i} here." for i in range(3)] + [f"W{i}." for i in range(30)]), "list_ratio",
         {"new_line_ratio": 1.0, "short_line_thr": 1.0}),
    ],
)
def test_rules_both_ways(text: str, reason: str, off: dict[str, object]) -> None:
    assert fw(text, **({"short_line_thr": 1.0} if reason == "list_ratio" else {})) == reason
    assert fw(text, **off) is None


def test_exclude_zero_keeps_pages_without_any_punctuated_line() -> None:
    text = "\n".join(f"{LONG} {i}" for i in range(10))
    assert fw(text, line_punct_exclude_zero=True) is None
    assert fw(text + "\nDone.", line_punct_exclude_zero=True) == "line_punct_ratio"  # 1/11 < 0.12


def test_good_and_empty(make_stage) -> None:  # type: ignore[no-untyped-def]
    assert fw(GOOD) is None
    assert fw(" \n\n \t") == "empty"
    stage = make_stage("fineweb_quality")
    assert [d.id for d in run(stage, GOOD, "")] == ["d0"]
    assert stage.ctx.stats.get("0:fineweb_quality", "dropped.empty") == 1
