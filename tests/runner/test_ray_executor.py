"""The Ray executor on a local 2-CPU Ray instance: same bytes as the local executor."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import manifest_shards

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

PIPELINE = """\
name: ray
seed: 5
output: {out}
executor: {executor}
inputs:
  c4: {{reader: jsonl, paths: "{data}/c4/*.jsonl*"}}
  books: {{reader: text, paths: "{data}/books/*.txt", split: file}}
stages:
  - write: {{format: parquet}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 128, shard_tokens: 32768}}
"""


def test_ray_output_is_byte_identical_to_local(tmp_path: Path, data_dir: Path) -> None:
    sums = {}
    for name, executor in (("local", "{kind: local, workers: 2}"), ("ray", "{kind: ray, num_cpus: 2}")):
        p = tmp_path / f"{name}.yaml"
        p.write_text(PIPELINE.format(out=tmp_path / name, executor=executor, data=data_dir))
        r = CliRunner().invoke(main, ["run", str(p)])
        assert r.exit_code == 0, r.output
        sums[name] = [e["sha256"] for _, e in manifest_shards(tmp_path / name)]
        docs = sorted(f.relative_to(tmp_path / name) for f in (tmp_path / name / "documents").rglob("*.parquet"))
        assert [d.parts[1] for d in docs] == ["books", "books", "c4", "c4"]
    assert sums["local"] == sums["ray"] and len(sums["ray"]) > 3
    assert not ray.is_initialized()  # the executor shut down the instance it started


def test_unreachable_cluster_is_a_clear_error(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(PIPELINE.format(out=tmp_path / "bad", executor="{kind: ray, address: '127.0.0.1:1'}",
                                 data=data_dir))
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 1
    assert "cannot connect to a Ray cluster at '127.0.0.1:1'" in r.output
