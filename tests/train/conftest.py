"""Real shards for the trainer tests: the bundled books and wiki text, tokenized with data/tokenizer.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer
from train_shards import EOS, book_body, pretrain_output, pretrain_stream, sft_row, write_output

from dataforge.io import sha256_file
from dataforge.tokenize.shards import ShardSpec


@pytest.fixture(scope="session")
def tokenizer(tokenizer_path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(tokenizer_path))


@pytest.fixture(scope="session")
def corpus_stream(tokenizer: Tokenizer, data_dir: Path) -> np.ndarray:
    alice = (data_dir / "books" / "alice.txt").read_text(encoding="utf-8")
    wiki = (data_dir / "wiki" / "wiki_demo.txt").read_text(encoding="utf-8").splitlines()
    return pretrain_stream(tokenizer, [alice] + [line for line in wiki if line.strip()])


@pytest.fixture(scope="session")
def book_shards(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer, tokenizer_path: Path,
                data_dir: Path) -> Path:
    """Alice in Wonderland (Gutenberg header and license cut), rows of 64; every 10th row is validation."""
    stream = pretrain_stream(tokenizer, [book_body(data_dir / "books" / "alice.txt")])
    return pretrain_output(tmp_path_factory.mktemp("book"), tokenizer_path, stream, seq_len=64, validation_every=10)


@pytest.fixture(scope="session")
def pretrain_shards(tmp_path_factory: pytest.TempPathFactory, tokenizer_path: Path, corpus_stream: np.ndarray) -> Path:
    """~300k real tokens (Alice + wiki articles) in rows of 256; every 20th row is validation."""
    return pretrain_output(tmp_path_factory.mktemp("pretrain"), tokenizer_path, corpus_stream, seq_len=256)


@pytest.fixture(scope="session")
def sft_shards(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer, tokenizer_path: Path,
               data_dir: Path) -> Path:
    """SFT rows from the Alpaca seed tasks (instruction -> first instance's output), train split only."""
    rows = []
    for line in (data_dir / "instructions" / "seed_tasks.jsonl").read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        inst = task["instances"][0]
        instruction = task["instruction"] + (f"\n\n{inst['input']}" if inst["input"] else "")
        rows.append(sft_row(tokenizer, instruction, inst["output"], seq_len=128))
    spec = ShardSpec(kind="sft", seq_len=128, vocab_size=8192, eos_id=EOS, pad_id=EOS,
                     tokenizer_sha256=sha256_file(tokenizer_path), packing="pad")
    return write_output(tmp_path_factory.mktemp("sft"), tokenizer_path, spec, {"train": rows}, rows_per_shard=64)


@pytest.fixture(scope="session")
def arc_head(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The first 100 ARC-Challenge questions (the whole set takes ~10 s to score on one core)."""
    path = tmp_path_factory.mktemp("arc") / "arc_head.jsonl"
    lines = (data_dir / "benchmarks" / "arc_challenge.jsonl").read_text(encoding="utf-8").splitlines()[:100]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, book_shards: Path, data_dir: Path,
                arc_head: Path) -> tuple[Path, dict]:
    """tiny, 150 steps of 8 x 64 on Alice, scored at the end on Botchan and 100 ARC questions."""
    from dataforge.train import TrainConfig, run_training

    config = TrainConfig(model="tiny", steps=150, batch_size=8, seq_len=64, warmup=10, eval_every=0, log_every=1,
                         threads=1, eval_text=[str(data_dir / "eval" / "botchan_head.txt")], eval_mc=[str(arc_head)])
    run = tmp_path_factory.mktemp("trained") / "run"
    return run, run_training(config, shards=book_shards, output=run)
