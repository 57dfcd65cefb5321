"""Real shards to export: small real runs of the bundled data through the CLI (as tests/e2e does),
a tokenize-sft output of the bundled seed tasks, and hand-packed shards at the uint16 boundary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import ShardSpec, ShardWriter, manifest_core, write_manifest

PIPELINE = """\
name: export-{name}
seed: 7
output: {out}
executor: {{kind: local, workers: 1}}
inputs:
  c4: {{reader: jsonl, paths: {data}/c4/*.jsonl*}}
  wiki: {{reader: text, paths: {data}/wiki/wiki_demo.txt, split: line}}
stages:
  - write: {{format: jsonl}}
  - tokenize: {{tokenizer: {data}/tokenizer.json, seq_len: 128, shard_tokens: 16384, validation_fraction: 0.05,
               shuffle: {shuffle}, packing: {packing}}}
"""


def run_pipeline(root: Path, data_dir: Path, *, name: str, shuffle: bool, packing: str = "concat") -> Path:
    out = root / "out"
    pipeline = root / f"{name}.yaml"
    pipeline.write_text(PIPELINE.format(name=name, out=out, data=data_dir, shuffle=str(shuffle).lower(),
                                        packing=packing))
    r = CliRunner().invoke(main, ["run", str(pipeline)])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="session")
def ordered_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """Concat packing, rows in stream order (shuffle: false): documents cross rows and shards."""
    return run_pipeline(tmp_path_factory.mktemp("ordered"), data_dir, name="ordered", shuffle=False)


@pytest.fixture(scope="session")
def shuffled_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The default: concat packing with the global row shuffle."""
    return run_pipeline(tmp_path_factory.mktemp("shuffled"), data_dir, name="shuffled", shuffle=True)


@pytest.fixture(scope="session")
def padded_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """One document per padded row (long documents truncated to seq_len)."""
    return run_pipeline(tmp_path_factory.mktemp("padded"), data_dir, name="padded", shuffle=False, packing="pad")


@pytest.fixture(scope="session")
def sft_output(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, tokenizer_path: Path) -> Path:
    """tokenize-sft of the 175 bundled Self-Instruct seed tasks: padded rows with a loss mask."""
    out = tmp_path_factory.mktemp("sft") / "out"
    r = CliRunner().invoke(main, ["tokenize-sft", str(data_dir / "instructions" / "seed_tasks.jsonl"),
                                  "--tokenizer", str(tokenizer_path), "--output", str(out), "--seq-len", "128",
                                  "--validation-fraction", "0.2", "--rows-per-shard", "32"])
    assert r.exit_code == 0, r.output
    return out


def packed_output(out: Path, *, vocab_size: int, seq_len: int = 16, docs: int = 40, seed: int = 0) -> Path:
    """Concat-packed shards of random documents (each ends in EOS = 0) that use the vocabulary's
    highest id, in stream order (manifest ``shuffle: false``)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 3 * seq_len, size=docs)
    parts = []
    for n in lengths:
        doc = rng.integers(1, vocab_size, size=n)
        doc[rng.integers(0, n)] = vocab_size - 1
        doc[-1] = 0
        parts.append(doc)
    flat = np.concatenate(parts)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    spec = ShardSpec(kind="pretrain", seq_len=seq_len, vocab_size=vocab_size, eos_id=0, pad_id=0,
                     tokenizer_sha256="0" * 64)
    writer = ShardWriter(out / "shards", spec, split="train", rows_per_shard=7)
    for r in range(len(flat) // seq_len):
        lo = r * seq_len
        row_starts = [int(s - lo) for s in starts if lo <= s < lo + seq_len]
        writer.add(flat[lo:lo + seq_len], doc_starts=row_starts)
    manifest = manifest_core(spec, writer.close())
    manifest["shuffle"] = False
    write_manifest(out, manifest)
    return out


def load_summary(folder: Path, name: str = "export.json") -> dict:
    return json.loads((folder / name).read_text())


def export_cli(source: Path, out: Path, fmt: str, *extra: str) -> object:
    return CliRunner().invoke(main, ["export", str(source), "--format", fmt, "-o", str(out), *extra])
