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


def _pipeline(tmp_path: Path, data_dir: Path, *, train: str, seq_len: int = 64, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(f"""\
seed: 1
output: {tmp_path / 'out'}
executor: {{workers: 1}}
inputs:
  books: {{reader: text, paths: {data_dir}/books/alice.txt, split: file}}
stages:
  - tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: {seq_len}, shard_tokens: 8192, validation_fraction: 0}}
train: {train}
""")
    return p


def _summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "train" / "summary.json").read_text())


def test_a_changed_train_section_trains_again_and_new_shards_start_afresh(tmp_path: Path, data_dir: Path) -> None:
    """train: is not in the config hash (it does not shape the shards), yet changing it is not
    'nothing to do'; shards that changed under an old checkpoint start a new training."""
    p = _pipeline(tmp_path, data_dir, train="{model: tiny, steps: 3, batch_size: 4, eval_every: 3, warmup: 1}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output  # a 3-step run writes everything and exits cleanly
    assert _summary(tmp_path)["steps"] == 3
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 4

    _pipeline(tmp_path, data_dir, train="{model: tiny, steps: 6, batch_size: 4, eval_every: 3, warmup: 1}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    assert _summary(tmp_path)["steps"] == 6  # continued from the 3-step checkpoint: steps may grow
    assert CliRunner().invoke(main, ["run", str(p)]).exit_code == 4

    _pipeline(tmp_path, data_dir, train="{model: tiny, steps: 4, batch_size: 2, eval_every: 2, warmup: 1}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    s = _summary(tmp_path)
    assert s["steps"] == 4 and s["fresh_start"]  # another batch size cannot continue: a new training

    # new shards (another seq_len): the data reruns, then the training starts afresh on them
    _pipeline(tmp_path, data_dir, seq_len=32, train="{model: tiny, steps: 4, batch_size: 2, eval_every: 2, warmup: 1}")
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 0, r.output
    assert "other shards" not in r.output
    s = _summary(tmp_path)
    assert s["steps"] == 4 and s["fresh_start"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["seq_len"] == 32


def test_validate_checks_what_only_this_machine_and_the_tokenizer_can_answer(tmp_path: Path, data_dir: Path) -> None:
    """A device that is not here and a vocabulary smaller than the tokenizer's are refused by
    validate at their train: keys, before a shard is written (not after writing all of them)."""
    import torch

    device = "mps" if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()) else "cuda:99"
    p = _pipeline(tmp_path, data_dir, train=f"{{model: tiny, steps: 3, device: '{device}', vocab_size: 300}}")
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2, r.output
    assert "train.vocab_size: 300 is smaller than the tokenizer's 8192 tokens" in r.output
    assert "train.device" in r.output
    r = CliRunner().invoke(main, ["run", str(p)])
    assert r.exit_code == 2 and not (tmp_path / "out").exists()
