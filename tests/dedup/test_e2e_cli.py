"""minhash_dedup and exact_dedup through the real CLI (``dataforge run``)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from dataforge.cli import main

from .conftest import c4_texts
from .planted import distinct_texts
from tests.helpers import stats_counts

PIPELINE = """\
name: dedup_e2e
seed: 11
output: {out}
executor: {{kind: local, workers: 2}}
inputs:
  fresh: {{reader: jsonl, paths: {inp}/fresh.jsonl}}
  mirror: {{reader: jsonl, paths: {inp}/mirror.jsonl}}
stages:
  - exact_dedup: {{}}
  - minhash_dedup: {{threshold: 0.8, index: {index}}}
  - write: {{format: jsonl, compression: none}}
"""


def _write(path: Path, docs: list[tuple[str, str]]) -> None:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs), encoding="utf-8")


def _out_ids(out: Path) -> set[str]:
    return {json.loads(line)["id"] for f in (out / "documents").rglob("*.jsonl") for line in f.read_text().splitlines()}


def test_cli_run_drops_exact_and_near_duplicates_and_uses_the_index(tmp_path: Path) -> None:
    texts = distinct_texts(c4_texts(60))[:30]
    inp = tmp_path / "in"
    inp.mkdir()
    _write(inp / "fresh.jsonl", [(f"f{i}", t) for i, t in enumerate(texts)])
    mirror = [(f"m{i}", texts[i]) for i in range(5)]  # exact copies
    mirror += [(f"n{i}", texts[i] + " Share this page with your friends.") for i in range(5, 10)]  # near
    mirror += [("m-short", "ok")]
    _write(inp / "mirror.jsonl", mirror)
    cfg = tmp_path / "p.yaml"
    cfg.write_text(PIPELINE.format(out=tmp_path / "out", inp=inp, index=tmp_path / "index"))
    r = CliRunner().invoke(main, ["run", str(cfg)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    ids = _out_ids(out)
    assert ids == {f"f{i}" for i in range(30)} | {"m-short"}  # fresh has priority
    rows = pq.read_table(out / "dedup" / "clusters.parquet").to_pylist()
    assert sorted(r["keeper"] for r in rows) == [f"f{i}" for i in range(5, 10)]
    exact = pq.read_table(out / "dedup" / "exact_clusters.parquet").to_pylist()
    assert sorted(r["removed"][0] for r in exact) == [f"m{i}" for i in range(5)]
    stats = json.dumps(stats_counts(out))
    assert "dropped.duplicate" in stats and "short_docs" in stats
    assert json.loads((tmp_path / "index" / "index.json").read_text())["generations"][0]["docs"] == 31
    # a second night: the same texts under new ids are all dropped against the index
    _write(inp / "fresh.jsonl", [(f"g{i}", t) for i, t in enumerate(texts[:12])])
    _write(inp / "mirror.jsonl", [("late", texts[20] + " Posted by admin.")])
    cfg.write_text(PIPELINE.format(out=tmp_path / "out2", inp=inp, index=tmp_path / "index"))
    r = CliRunner().invoke(main, ["run", str(cfg)])
    assert r.exit_code == 0, r.output
    assert _out_ids(tmp_path / "out2") == set()
