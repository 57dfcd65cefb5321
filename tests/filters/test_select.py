"""select: later stages work on one bucket of what an earlier stage annotated (issue 15.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from dataforge.cli import main
from dataforge.filters.select import Select, SelectParams, select_reason
from dataforge.stage import RunInfo, TaskContext
from dataforge.stats import Stats
from tests.helpers import stats_counts


def _ctx(tmp_path: Path) -> TaskContext:
    run = RunInfo(seed=1, output_dir=tmp_path / "out", work_dir=tmp_path / "work", sources=["web"])
    return TaskContext(run=run, task_id="t0", label="1:select", stats=Stats(), task_dir=tmp_path / "t",
                       publish_dir=tmp_path / "p")


def test_values_range_missing_and_types() -> None:
    p = SelectParams(key="perplexity_bucket", values=["head", "middle"])
    assert select_reason({"perplexity_bucket": "head"}, p) is None
    assert select_reason({"perplexity_bucket": "tail"}, p) == "not_selected"
    assert select_reason({}, p) == "missing"
    assert select_reason({}, SelectParams(key="x", values=["a"], keep_missing=True)) is None
    r = SelectParams(key="quality", min=0.5, max=0.9)
    assert [select_reason({"quality": q}, r) for q in (0.5, 0.9, 0.49, 0.91, float("nan"), "0.7", True)] == \
        [None, None, "not_selected", "not_selected", "not_selected", "not_selected", "not_selected"]
    flags = SelectParams(key="ok", values=[True])
    assert select_reason({"ok": True}, flags) is None and select_reason({"ok": 1}, flags) == "not_selected"
    assert select_reason({"a": {"b": 2}}, SelectParams(key="a.b", values=[2])) is None  # nested field
    for bad in ({"key": "x", "values": []}, {"key": "", "values": ["a"]}, {"key": "x", "min": float("nan")}):
        with pytest.raises(ValidationError):
            SelectParams(**bad)
    assert Select.check(SelectParams(key="x")) == [("values", "give values: [...] or a min/max range to select on")]
    assert [k for k, _ in Select.check(SelectParams(key="x", values=["a"], min=1))] == ["min"]
    assert [k for k, _ in Select.check(SelectParams(key="x", min=2, max=1))] == ["min"]
    assert Select.check(SelectParams(key="x", min=1)) == []


def test_selects_a_perplexity_bucket_the_stage_before_wrote(tmp_path: Path) -> None:
    """perplexity's buckets (its own test's stand-in scorer) then select: head and middle stay."""
    pytest.importorskip("torch")
    from tests.filters.test_perplexity import docs, make

    scored = list(make(tmp_path, buckets=True, bucket_cutoffs=(3, 6)).process(docs([1, 4, 7, 50, 2])))
    stage = Select(SelectParams(key="perplexity_bucket", values=["head", "middle"]), _ctx(tmp_path))
    kept = list(stage.process(scored))
    assert [d.id for d in kept] == ["d0", "d1", "d4"]
    assert stage.ctx.stats.to_dict()["1:select"]["web"]["dropped.not_selected"] == 2


def test_in_a_pipeline_on_a_field_of_the_input(tmp_path: Path, data_dir: Path) -> None:
    rows = [{"id": f"d{i}", "text": f"Document number {i} has a few words in it.", "tier": t}
            for i, t in enumerate(["gold", "silver", "bronze", "gold"])] + [{"id": "d9", "text": "No tier."}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
output: {tmp_path / 'out'}
inputs:
  web: {{reader: jsonl, paths: {src}}}
stages:
  - select: {{key: tier, values: [gold, silver]}}
  - write: {{compression: none}}
""")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    kept = sorted(json.loads(line)["id"] for f in (tmp_path / "out" / "documents").rglob("*.jsonl") for line in f.open())
    assert kept == ["d0", "d1", "d3"]
    counts = stats_counts(tmp_path / "out")["0:select"]["web"]
    assert counts["dropped.not_selected"] == 1 and counts["dropped.missing"] == 1
