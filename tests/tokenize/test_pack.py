"""Packing: concatenation with EOS and document starts, padding, bounded shuffle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataforge.tokenize.encode import INDEX_FILE, INDEX_SCHEMA, TOKENS_FILE
from dataforge.tokenize.pack import pack, unit_hash
from dataforge.tokenize.shards import ShardSpec, open_shard
from dataforge.tokenize.stage import TokenizeParams


def make_task(d: Path, docs: list[list[int]], source: str, prefix: str) -> Path:
    d.mkdir(parents=True)
    flat = np.concatenate([np.asarray(x, dtype=np.uint16) for x in docs])
    flat.tofile(d / TOKENS_FILE)
    pq.write_table(pa.table({"id": [f"{prefix}{i}" for i in range(len(docs))], "source": [source] * len(docs),
                             "n_tokens": [len(x) for x in docs]}, schema=INDEX_SCHEMA), str(d / INDEX_FILE))
    return d


def run_pack(tmp_path: Path, tasks: list[Path], *, seed: int = 0, **kw: object) -> list:
    params = TokenizeParams(tokenizer="x", seq_len=kw.pop("seq_len", 4), shard_tokens=kw.pop("shard_tokens", 8),
                            **kw)
    spec = ShardSpec(kind="pretrain", seq_len=params.seq_len, vocab_size=1000, eos_id=0, pad_id=0,
                     tokenizer_sha256="t", packing=params.packing)
    out = tmp_path / f"shards-{seed}-{params.packing}-{params.shuffle}"
    res = pack(tasks, spec=spec, params=params, seed=seed, shard_dir=out, scratch=tmp_path / "scratch",
               total_rows_hint=100)
    return [open_shard(out / s.path) for s in res.shards], res


def test_concat_packs_in_order_with_doc_starts(tmp_path: Path) -> None:
    t = make_task(tmp_path / "t", [[5, 6, 0], [7, 8, 9, 10, 0], [11, 0]], "a", "d")
    views, res = run_pack(tmp_path, [t], shuffle=False)
    rows = np.concatenate([v.tokens for v in views]).tolist()
    assert rows == [[5, 6, 0, 7], [8, 9, 10, 0]]
    starts = sum((v.doc_starts for v in views), [])
    assert starts == [[0, 3], []]
    assert res.dropped_tail["train"] == 2  # [11, 0] is shorter than a row
    assert res.per_source["a"]["train_tokens"] == 10


def test_pad_packing_one_document_per_row(tmp_path: Path) -> None:
    t = make_task(tmp_path / "t", [[5, 6, 0], [7, 8, 9, 10, 11, 0]], "a", "d")
    views, res = run_pack(tmp_path, [t], shuffle=False, packing="pad")
    v = views[0]
    assert v.tokens.tolist() == [[5, 6, 0, 0], [7, 8, 9, 10]]
    assert v.lengths.tolist() == [3, 4]
    assert res.truncated_tokens == 2


def test_shuffle_is_seeded_and_keeps_every_row(tmp_path: Path) -> None:
    docs_a = [[i, i, 0] for i in range(1, 200)]
    docs_b = [[500 + i, 0] for i in range(1, 200)]
    tasks = [make_task(tmp_path / "a", docs_a, "a", "a"), make_task(tmp_path / "b", docs_b, "b", "b")]
    plain, _ = run_pack(tmp_path, tasks, shuffle=False)
    s1, _ = run_pack(tmp_path, tasks, seed=1, shuffle_buffer_rows=16)
    s1b, _ = run_pack(tmp_path / "again", tasks, seed=1, shuffle_buffer_rows=16)
    s2, _ = run_pack(tmp_path, tasks, seed=2, shuffle_buffer_rows=16)
    rows = lambda vs: [tuple(r) for v in vs for r in v.tokens.tolist()]  # noqa: E731
    assert sorted(rows(s1)) == sorted(rows(plain)) == sorted(rows(s2))
    assert rows(s1) == rows(s1b) and rows(s1) != rows(s2) and rows(s1) != rows(plain)
    # no long single-source runs: in order, source a fills the first ~150 rows
    src = ["a" if max(r) < 500 else "b" for r in rows(s1)]
    longest = max(len(run) for run in "".join(src).replace("ab", "a b").replace("ba", "b a").split())
    assert longest < 20


def test_validation_split_is_disjoint_and_stable(tmp_path: Path) -> None:
    docs = [[i + 1, 0] for i in range(400)]
    t = make_task(tmp_path / "t", docs, "a", "d")
    _, res = run_pack(tmp_path, [t], shuffle=False, validation_fraction=0.1)
    n_val = res.per_source["a"]["validation_docs"]
    assert 20 <= n_val <= 60 and n_val + res.per_source["a"]["train_docs"] == 400
    held = {f"d{i}" for i in range(400) if unit_hash(0, "validation", f"d{i}") < 0.1}
    assert len(held) == n_val
