"""Cron mode (append: true): only unseen inputs are processed, deduplicated against the
persistent index, and their shards are appended; the manifest is updated atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import manifest_shards, open_shard
from tests.helpers import stats_counts

PIPELINE = """\
name: nightly
seed: 11
output: {out}
append: true
executor: {{workers: 2}}
inputs:
  crawl: {{reader: jsonl, paths: "{src}/*.jsonl"}}
stages:
  - minhash_dedup: {{index: {out}-index}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 128, shard_tokens: 16384}}
"""


def run(p: Path) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["run", str(p)])
    return r.exit_code, r.output


def test_nightly_append_processes_only_new_files(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "crawl"
    src.mkdir()
    lines = (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)
    (src / "day1.jsonl").write_bytes(b"".join(lines[:200]))
    out = tmp_path / "out"
    p = tmp_path / "p.yaml"
    p.write_text(PIPELINE.format(out=out, src=src, data=data_dir))

    code, output = run(p)
    assert code == 0, output
    first = json.loads((out / "manifest.json").read_text())
    first_shards = {e["path"]: e["sha256"] for e in first["shards"]}
    assert run(p)[0] == 4  # nothing new

    os.utime(src / "day1.jsonl", ns=(1, 1))  # touched, same bytes: still seen (checksum)
    assert run(p)[0] == 4

    # day 2: 100 new documents and 50 that were already published on day 1
    (src / "day2.jsonl").write_bytes(b"".join(lines[200:300] + lines[:50]))
    code, output = run(p)
    assert code == 0, output
    second = json.loads((out / "manifest.json").read_text())
    assert [i["path"] for i in second["inputs"]] == [str(src / "day1.jsonl"), str(src / "day2.jsonl")]
    assert len(second["runs"]) == 2 and second["runs"][1]["inputs"] == 1
    # day 1's shards are untouched; day 2's come after them
    assert {e["path"]: e["sha256"] for e in second["shards"][: len(first_shards)]} == first_shards
    assert len(second["shards"]) > len(first_shards)
    for path, _ in manifest_shards(out):
        open_shard(path)
    stats = stats_counts(out)
    dedup = next(v for k, v in stats.items() if k.endswith("minhash_dedup"))
    dropped = sum(c.get("dropped.duplicate", 0) for c in dedup.values())
    assert dropped >= 50  # day 1's documents came back and were recognised through the index
    assert run(p)[0] == 4


def test_append_refuses_an_output_of_another_configuration(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "crawl"
    src.mkdir()
    (src / "a.jsonl").write_bytes(b"".join((data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes()
                                           .splitlines(keepends=True)[:20]))
    p = tmp_path / "p.yaml"
    p.write_text(PIPELINE.format(out=tmp_path / "out", src=src, data=data_dir))
    assert run(p)[0] == 0
    p.write_text(p.read_text().replace("seq_len: 128", "seq_len: 64"))
    (src / "b.jsonl").write_bytes((src / "a.jsonl").read_bytes()[:500].rsplit(b"\n", 1)[0] + b"\n")
    code, output = run(p)
    assert code == 2 and "made by another pipeline configuration" in output
