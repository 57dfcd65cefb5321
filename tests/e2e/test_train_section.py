"""A pipeline file's train: section trains on the shards the run just wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main

pytest.importorskip("torch", reason="the train extra is not installed")


def test_run_produces_shards_then_trains_on_them(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
seed: 1
output: {tmp_path / 'out'}
executor: {{workers: 1}}
inputs:
  books: {{reader: text, paths: {data_dir}/books/alice.txt, split: file}}
stages:
  - tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 64, shard_tokens: 8192, validation_fraction: 0}}
train: {{model: tiny, steps: 40, batch_size: 8, eval_every: 20, warmup: 5, log_every: 10}}
""")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    assert "trained 40 steps" in r.output
    run_dir = tmp_path / "out" / "train"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m and m.get("kind", "train") == "train"]
    assert losses and losses[-1] < losses[0]
    assert (run_dir / "ckpt.pt").exists()
    again = CliRunner().invoke(main, ["run", str(p)])
    assert again.exit_code == 4  # shards and training are both done


def test_bad_train_option_is_a_config_error(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"""\
output: {tmp_path / 'out'}
inputs:
  books: {{reader: text, paths: {data_dir}/books/alice.txt, split: file}}
stages:
  - tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 64}}
train: {{model: tiny, stepz: 40}}
""")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 2
    assert "train.stepz: unknown option 'stepz' (did you mean 'steps'?)" in r.output
