"""Packing as parallel tasks: count -> layout -> scatter -> gather, driven here in-process on
tasks whose encoded files are built inline: concatenation with EOS and document starts,
padding, the seeded global shuffle, and the same bytes however the documents are split
into tasks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataforge.mix import MixPlan
from dataforge.tokenize.encode import INDEX_FILE, INDEX_SCHEMA, SUMMARY_FILE, TOKENS_FILE
from dataforge.tokenize.hashing import unit_hash
from dataforge.tokenize.pack import SPLITS, count_task, gather_bucket, layout, scatter_task
from dataforge.tokenize.shards import ShardSpec, open_shard
from dataforge.tokenize.shuffle import Permutation


def make_task(d: Path, docs: list[list[int]], source: str, prefix: str, *, val_fraction: float = 0.0,
              first: int = 0) -> Path:
    d.mkdir(parents=True)
    flat = np.concatenate([np.asarray(x, dtype=np.uint16) for x in docs])
    flat.tofile(d / TOKENS_FILE)
    ids = [f"{prefix}{first + i}" for i in range(len(docs))]
    val = [bool(val_fraction) and unit_hash(0, "validation", i) < val_fraction for i in ids]
    pq.write_table(pa.table({"id": ids, "source": [source] * len(docs), "n_tokens": [len(x) for x in docs],
                             "validation": val}, schema=INDEX_SCHEMA), str(d / INDEX_FILE))
    (d / SUMMARY_FILE).write_text(json.dumps({"sources": {}, "dtype": "uint16"}))
    return d


def run_pack(tmp_path: Path, tasks: list[Path], *, seed: int = 0, seq_len: int = 4, rows_per_shard: int = 2,
             packing: str = "concat", shuffle: bool = True, buffer_rows: int = 4) -> tuple[list, dict, dict]:
    plan = MixPlan(available={}, docs={}, seed=seed).to_json()
    counts = [count_task(str(t), plan, seq_len=seq_len, packing=packing) for t in tasks]
    lays, offsets = layout(counts, seq_len=seq_len, packing=packing, rows_per_shard=rows_per_shard,
                           buffer_rows=buffer_rows, start_index={})
    lay_json = {s: vars(lays[s]) for s in SPLITS}
    work = tmp_path / f"work-{seed}-{packing}-{shuffle}-{len(tasks)}"
    scat = [str(work / f"s{i}") for i in range(len(tasks))]
    for i, t in enumerate(tasks):
        scatter_task(str(t), scat[i], plan, lay_json, offsets[i], seq_len=seq_len, packing=packing, shuffle=shuffle,
                     seed=seed, dtype="uint16", pad_id=0, eos_id=0)
    spec = ShardSpec(kind="pretrain", seq_len=seq_len, vocab_size=1000, eos_id=0, pad_id=0, tokenizer_sha256="t",
                     packing=packing)
    infos = []
    for s in SPLITS:
        for b in range(lays[s].buckets):
            infos += gather_bucket(s, b, scat, lay_json[s], vars(spec), str(work / "shards"))
    views = {s: [open_shard(work / "shards" / i["path"]) for i in sorted(infos, key=lambda i: i["path"])
                 if i["split"] == s] for s in SPLITS}
    per_source: dict[str, dict[str, int]] = {}
    for c in counts:
        for src, keys in c["sources"].items():
            acc = per_source.setdefault(src, dict.fromkeys(keys, 0))
            for k, v in keys.items():
                acc[k] += v
    return views["train"] + views["validation"], {s: vars(lays[s]) for s in SPLITS}, per_source


def rows(views: list) -> list[tuple[int, ...]]:
    return [tuple(r) for v in views for r in v.tokens.tolist()]


def test_concat_packs_in_order_with_doc_starts(tmp_path: Path) -> None:
    t = make_task(tmp_path / "t", [[5, 6, 0], [7, 8, 9, 10, 0], [11, 0]], "a", "d")
    views, lay, per_source = run_pack(tmp_path, [t], shuffle=False)
    assert rows(views) == [(5, 6, 0, 7), (8, 9, 10, 0)]
    assert sum((v.doc_starts for v in views), []) == [[0, 3], []]
    assert lay["train"]["dropped_tail"] == 2  # [11, 0] is shorter than a row
    assert per_source["a"]["train_tokens"] == 10


def test_rows_cross_task_edges_and_match_a_single_task(tmp_path: Path) -> None:
    """The same documents in 1 task or cut into 3 give the same shards, byte for byte
    (rows are cut at global token positions, not per task)."""
    docs = [[i % 97 + 1] * (i % 7 + 1) + [0] for i in range(60)]
    one = run_pack(tmp_path, [make_task(tmp_path / "one", docs, "a", "d")], shuffle=True)[0]
    three = [make_task(tmp_path / f"p{k}", docs[a:b], "a", "d", first=a)
             for k, (a, b) in enumerate([(0, 7), (7, 8), (8, 60)])]
    split = run_pack(tmp_path, three, shuffle=True)[0]
    assert rows(one) == rows(split)
    assert [v.doc_starts for v in one] == [v.doc_starts for v in split]
    assert [open(v.path, "rb").read() for v in one] == [open(v.path, "rb").read() for v in split]


def test_pad_packing_one_document_per_row(tmp_path: Path) -> None:
    t = make_task(tmp_path / "t", [[5, 6, 0], [7, 8, 9, 10, 11, 0]], "a", "d")
    views, _, per_source = run_pack(tmp_path, [t], shuffle=False, packing="pad")
    assert rows(views) == [(5, 6, 0, 0), (7, 8, 9, 10)]
    assert views[0].lengths.tolist() == [3, 4]
    assert per_source["a"]["train_tokens"] == 7  # 3 + 4 kept; 2 truncated


def test_shuffle_is_seeded_and_keeps_every_row(tmp_path: Path) -> None:
    docs_a = [[i, i, 0] for i in range(1, 200)]
    docs_b = [[500 + i, 0] for i in range(1, 200)]
    tasks = [make_task(tmp_path / "a", docs_a, "a", "a"), make_task(tmp_path / "b", docs_b, "b", "b")]
    plain = run_pack(tmp_path, tasks, shuffle=False)[0]
    s1 = run_pack(tmp_path, tasks, seed=1, buffer_rows=16)[0]
    s1b = run_pack(tmp_path / "again", tasks, seed=1, buffer_rows=16)[0]
    s2 = run_pack(tmp_path, tasks, seed=2, buffer_rows=16)[0]
    assert sorted(rows(s1)) == sorted(rows(plain)) == sorted(rows(s2))
    assert rows(s1) == rows(s1b) and rows(s1) != rows(s2) and rows(s1) != rows(plain)
    # no long single-source runs: in order, source a fills the first ~150 rows
    src = ["a" if max(r) < 500 else "b" for r in rows(s1)]
    longest = max(len(run) for run in "".join(src).replace("ab", "a b").replace("ba", "b a").split())
    assert longest < 20


def test_validation_split_is_disjoint_and_stable(tmp_path: Path) -> None:
    docs = [[i + 1, 0] for i in range(400)]
    t = make_task(tmp_path / "t", docs, "a", "d", val_fraction=0.1)
    views, _, per_source = run_pack(tmp_path, [t], shuffle=False)
    n_val = per_source["a"]["validation_docs"]
    assert 20 <= n_val <= 60 and n_val + per_source["a"]["train_docs"] == 400
    held = {f"d{i}" for i in range(400) if unit_hash(0, "validation", f"d{i}") < 0.1}
    assert len(held) == n_val
    val_tokens = {tok for v in views if v.meta["split"] == "validation" for r in v.tokens.tolist() for tok in r}
    assert val_tokens <= {i + 1 for i in range(400) if f"d{i}" in held} | {0}


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1000, 65_537])
def test_permutation_is_a_bijection(n: int) -> None:
    p = Permutation(n, seed=5, tag="rows:train")
    out = p(np.arange(n))
    assert sorted(out.tolist()) == list(range(n))
    if n > 16:
        assert (out != np.arange(n)).mean() > 0.8  # it moves rows
        assert not np.array_equal(out, Permutation(n, seed=6, tag="rows:train")(np.arange(n)))
    with pytest.raises(ValueError):
        p(np.asarray([n]))
