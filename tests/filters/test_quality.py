"""The quality_classifier stage with the shipped model: scores, threshold, per-task top fraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from dataforge.filters.quality import QualityClassifierParams, top_fraction_cutoff
from tests.filters.util import GOOD, run

SPAM = ("lorazepam nombre comercial mexico buy cheap pills online best price free shipping click here "
        "casino bonus win now limited offer buy buy buy discount viagra cialis")


def dclm(data_dir: Path, label: int, n: int) -> list[str]:
    rows = [json.loads(line) for line in open(data_dir / "quality" / "dclm_labelled.jsonl", encoding="utf-8")]
    return [r["text"] for r in rows if r["label"] == label][:n]


def test_scores_every_document_and_keeps_all_without_a_rule(make_stage) -> None:  # type: ignore[no-untyped-def]
    out = run(make_stage("quality_classifier"), GOOD, SPAM)
    assert len(out) == 2
    good, spam = (d.meta["quality"] for d in out)
    assert 0.0 <= spam < 0.5 < good <= 1.0


def test_threshold(make_stage) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("quality_classifier", threshold=0.5)
    assert [d.id for d in run(stage, GOOD, SPAM)] == ["d0"]
    assert stage.ctx.stats.get("0:quality_classifier", "dropped.low_quality") == 1


def test_shipped_model_ranks_human_labels_better_than_chance(make_stage, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    good, bad = dclm(data_dir, 1, 100), dclm(data_dir, 0, 100)
    out = run(make_stage("quality_classifier"), *good, *bad)
    scores = [d.meta["quality"] for d in out]
    mean_good, mean_bad = sum(scores[:100]) / 100, sum(scores[100:]) / 100
    assert mean_good > mean_bad + 0.05


def test_top_fraction_is_estimated_per_task(make_stage, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    texts = dclm(data_dir, 1, 50) + dclm(data_dir, 0, 50)
    stage = make_stage("quality_classifier", top_fraction=0.25, calibration_docs=40, batch_size=16)
    out = run(stage, *texts)
    all_scores = [d.meta["quality"] for d in run(make_stage("quality_classifier"), *texts)]
    cutoff = top_fraction_cutoff(all_scores[:40], 0.25)  # from the first 40 documents of the task
    assert [d.id for d in out] == [f"d{i}" for i, s in enumerate(all_scores) if s >= cutoff]
    assert 10 <= len(out) <= 40


def test_cutoff_quantile() -> None:
    assert top_fraction_cutoff([0.1, 0.2, 0.3, 0.4], 0.5) == 0.3
    assert top_fraction_cutoff([0.5], 0.1) == 0.5


def test_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="either `threshold` or `top_fraction`"):
        QualityClassifierParams(threshold=0.5, top_fraction=0.1)
    with pytest.raises(ValidationError, match="dataforge classifier train"):
        QualityClassifierParams(model=str(tmp_path / "missing.ftz"))
