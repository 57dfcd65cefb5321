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


def test_warm_reused_workers_and_small_tasks_batched() -> None:
    from dataforge.runner.ray_executor import RayExecutor

    def _pid_of(i: int) -> tuple[int, int]:  # local: Ray pickles it by value (tests/ is no package)
        import os

        return i, os.getpid()

    ex = RayExecutor(address=None, num_cpus=2)
    try:
        warmed = set(ray.get(ex._warming))  # one warm-up call per CPU, each on its own worker
        assert len(warmed) == 2
        seen: list[int] = []
        out = ex.map(_pid_of, [(i,) for i in range(2000)], on_done=lambda i, r: seen.append(i))
        assert [i for i, _ in out] == list(range(2000))  # argument order
        assert sorted(seen) == list(range(2000))  # on_done once per task, not per batch
        assert {pid for _, pid in out} <= warmed  # the warm workers ran every task: no cold start
        call = ex.profile.calls[-1]
        assert call.batches < 2000 / 10, call.batches  # tiny tasks went many to a remote call
        assert len(call.task_seconds) == 2000
        slow = ex.map(__import__("time").sleep, [(0.3,)] * 4)
        assert slow == [None] * 4 and ex.profile.calls[-1].batches == 4  # long tasks: one per call
    finally:
        ex.close()
    assert not ray.is_initialized()
