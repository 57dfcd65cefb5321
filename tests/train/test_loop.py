"""Training runs end to end on real shards: it learns, it resumes exactly, it refuses what it must."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dataforge.tokenize.shards import manifest_shards, open_shard
from dataforge.train.config import TrainConfig, TrainError
from dataforge.train.engine import load_checkpoint
from dataforge.train.loop import lr_at, run_training

# small and single-threaded: deterministic, and fast even when other jobs share the cores
FAST = {"batch_size": 4, "seq_len": 32, "warmup": 2, "threads": 1, "eval_batches": 2, "log_every": 1}


def split_tokens(shards: Path, split: str) -> np.ndarray:
    return np.concatenate([open_shard(p).tokens.reshape(-1) for p, _ in manifest_shards(shards, split)])


def records(run_dir: Path, event: str) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


def test_tiny_model_learns_below_the_unigram_entropy(book_shards: Path, tmp_path: Path) -> None:
    train, val = split_tokens(book_shards, "train"), split_tokens(book_shards, "validation")
    counts = np.bincount(train, minlength=8192).astype(float)
    p = counts[counts > 0] / counts.sum()
    unigram_entropy = float(-(p * np.log(p)).sum())  # the best loss without context, on train
    smoothed = (counts + 1) / (counts.sum() + 8192)
    unigram_val = float(-np.log(smoothed[val]).mean())  # that model's loss on the held-out rows
    config = TrainConfig(model="tiny", steps=150, batch_size=8, seq_len=64, warmup=10, eval_every=0,
                         log_every=1, threads=1)
    summary = run_training(config, shards=book_shards, output=tmp_path / "run")
    assert summary["steps"] == 150 and summary["eval_origin"] == "validation"
    assert summary["train_loss"] < unigram_entropy - 0.2, (summary, unigram_entropy)
    assert summary["eval_loss"] < unigram_val - 0.25, (summary, unigram_val)
    assert math.isclose(summary["eval_ppl"], math.exp(summary["eval_loss"]))
    assert 0 < summary["data_share"] < 1 and summary["tokens_per_s"] > 0
    assert summary["tokens_seen"] == 150 * 8 * 64
    first = records(tmp_path / "run", "train")[0]
    assert first["step"] == 1 and first["loss"] > math.log(8192) - 0.5  # it started from chance, not from a leak


def test_resume_continues_exactly(book_shards: Path, tmp_path: Path) -> None:
    config = TrainConfig(steps=8, eval_every=4, checkpoint_every=0, **FAST)
    run_training(config, shards=book_shards, output=tmp_path / "straight")
    part = run_training(config, shards=book_shards, output=tmp_path / "resumed", stop_after=5)
    assert part["steps"] == 5
    ckpt = load_checkpoint(tmp_path / "resumed")
    assert ckpt["step"] == 5 and ckpt["data"]["cursor"] == 5
    assert {"model", "optimizer", "config", "model_config", "rng"} <= ckpt.keys()
    # a crash after the checkpoint leaves metrics past it; the resume drops them
    with open(tmp_path / "resumed" / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"event": "train", "step": 6, "loss": 0.0, "lr": 0.0}) + "\n")
    run_training(config, shards=book_shards, output=tmp_path / "resumed", resume=True)
    straight, resumed = records(tmp_path / "straight", "train"), records(tmp_path / "resumed", "train")
    assert [r["step"] for r in resumed] == list(range(1, 9))
    assert [r["loss"] for r in resumed] == [r["loss"] for r in straight]  # bit for bit, steps 6-8 included
    assert [r["lr"] for r in resumed] == [r["lr"] for r in straight]
    assert records(tmp_path / "resumed", "eval") == records(tmp_path / "straight", "eval")


def test_existing_run_needs_resume_and_the_same_settings(book_shards: Path, tmp_path: Path) -> None:
    config = TrainConfig(steps=2, **FAST)
    run_training(config, shards=book_shards, output=tmp_path / "run")
    with pytest.raises(TrainError, match="pass --resume"):
        run_training(config, shards=book_shards, output=tmp_path / "run")
    with pytest.raises(TrainError, match=r"different settings \(lr\)"):
        run_training(TrainConfig(steps=2, lr=1e-4, **FAST), shards=book_shards, output=tmp_path / "run", resume=True)
    longer = run_training(TrainConfig(steps=3, **FAST), shards=book_shards, output=tmp_path / "run", resume=True)
    assert longer["steps"] == 3  # steps may grow on resume


def test_resume_on_other_shards_is_refused(book_shards: Path, pretrain_shards: Path, tmp_path: Path) -> None:
    config = TrainConfig(steps=1, **FAST)
    run_training(config, shards=book_shards, output=tmp_path / "run")
    with pytest.raises(TrainError, match="trained on other shards"):
        run_training(config, shards=pretrain_shards, output=tmp_path / "run", resume=True)


def test_model_vocabulary_smaller_than_the_shards_is_refused(book_shards: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="does not fit the model's vocab_size 1024"):
        run_training(TrainConfig(steps=1, vocab_size=1024, **FAST), shards=book_shards, output=tmp_path / "run")
    assert not (tmp_path / "run" / "ckpt.pt").exists()


def test_sft_run_trains_on_held_out_rows(sft_shards: Path, tmp_path: Path) -> None:
    config = TrainConfig(steps=6, batch_size=4, warmup=2, threads=1, eval_batches=2, holdout=0.1, log_every=3)
    summary = run_training(config, shards=sft_shards, output=tmp_path / "sft")
    assert summary["eval_origin"] == "holdout"  # the SFT fixture has no validation split
    assert math.isfinite(summary["eval_loss"]) and summary["eval_loss"] < math.log(8192) + 1
    run = json.loads((tmp_path / "sft" / "run.json").read_text())
    assert run["kind"] == "sft" and run["model"]["context"] == 128


def test_learning_rate_warms_up_then_decays_by_cosine() -> None:
    sched = [lr_at(s, peak=1.0, warmup=4, total=20, min_ratio=0.1) for s in range(20)]
    assert sched[:4] == [0.25, 0.5, 0.75, 1.0]  # lr * (step + 1) / warmup
    assert all(a >= b for a, b in zip(sched[4:], sched[5:]))
    assert math.isclose(lr_at(20, peak=1.0, warmup=4, total=20, min_ratio=0.1), 0.1)
    assert math.isclose(lr_at(12, peak=1.0, warmup=4, total=20, min_ratio=0.1), 0.55)  # halfway: mean of peak and floor
