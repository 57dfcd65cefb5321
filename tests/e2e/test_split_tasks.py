"""Big files as many tasks: the same shards, stats and document ids whether a file is split
into parts or read whole, and whatever the number of workers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from dataforge.cli import main

from .test_run_cli import shard_sums
from tests.helpers import stats_counts


def _inputs(root: Path, data_dir: Path) -> Path:
    root.mkdir()
    lines = (data_dir / "c4" / "tiny_c4_sample.jsonl").read_bytes().splitlines(keepends=True)
    (root / "c4.jsonl").write_bytes(b"".join(lines))
    # a multi-member gzip (as bgzip or `cat a.gz b.gz` make): splittable at member starts
    members = [gzip.compress(b"".join(lines[i:i + 40])) for i in range(0, len(lines), 40)]
    (root / "c4.jsonl.gz").write_bytes(b"".join(members))
    table = pq.read_table(data_dir / "web" / "fineweb-sample.parquet")
    pq.write_table(table, root / "web.parquet", row_group_size=10)
    return root


def _pipeline(tmp_path: Path, data_dir: Path, inputs: Path, name: str, *, task_bytes: int | None,
              workers: int) -> Path:
    tb = f", task_bytes: {task_bytes}" if task_bytes else ""
    p = tmp_path / f"{name}.yaml"
    p.write_text(f"""\
seed: 3
output: {tmp_path / name}
executor: {{workers: {workers}{tb}}}
inputs:
  gz: {{reader: jsonl, paths: {inputs}/c4.jsonl.gz, id_field: null, weight: 1}}
  plain: {{reader: jsonl, paths: {inputs}/c4.jsonl, weight: 1}}
  web: {{reader: parquet, paths: {inputs}/web.parquet, weight: 1}}
stages:
  - gopher_repetition: {{}}
  - exact_dedup: {{}}
  - write: {{format: jsonl, compression: none}}
  - mix: {{target_tokens: 150000}}
  - tokenize: {{tokenizer: {data_dir}/tokenizer.json, seq_len: 64, shard_tokens: 8192, validation_fraction: 0.05,
               shuffle_buffer_rows: 100}}
""")
    return p


def _ids(out: Path) -> list[str]:
    return sorted(json.loads(line)["id"] for f in (out / "documents").rglob("*.jsonl") for line in f.open())


def test_split_and_whole_give_the_same_bytes(tmp_path: Path, data_dir: Path) -> None:
    inputs = _inputs(tmp_path / "in", data_dir)
    whole = _pipeline(tmp_path, data_dir, inputs, "whole", task_bytes=None, workers=1)
    split = _pipeline(tmp_path, data_dir, inputs, "split", task_bytes=20_000, workers=2)
    dry = CliRunner().invoke(main, ["run", "--dry-run", str(split)])
    assert dry.exit_code == 0, dry.output
    assert "of00" in dry.output  # parts are listed as tasks
    n_tasks = sum(1 for line in dry.output.splitlines() if line.strip().startswith("task "))
    assert n_tasks > 10, dry.output
    for p in (whole, split):
        r = CliRunner().invoke(main, ["run", str(p)])
        assert r.exit_code == 0, r.output
    assert shard_sums(tmp_path / "whole") == shard_sums(tmp_path / "split")
    assert _ids(tmp_path / "whole") == _ids(tmp_path / "split")
    a = stats_counts(tmp_path / "whole")
    b = stats_counts(tmp_path / "split")
    for label in ("read", "0:gopher_repetition", "1:exact_dedup"):
        for source in ("plain", "gz", "web"):
            for key in ("docs_out", "bytes_out"):
                assert a[label][source].get(key) == b[label][source].get(key), (label, source, key)
    # ids of the id-less gzip input (first in priority, so it keeps the duplicates) carry line numbers
    gz_ids = [i for i in _ids(tmp_path / "split") if i.startswith("gz/")]
    assert gz_ids and all(i.rsplit(":", 1)[1].isdigit() for i in gz_ids)
