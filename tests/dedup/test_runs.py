"""Run files: checksums catch corruption and truncation; the merge is exact in small buffers."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from dataforge.dedup.buckets import group_edges
from dataforge.dedup.minhash import MinhashDedup
from dataforge.dedup.runs import SignatureFileError, merge_runs, sort_records, verify_run, write_run
from dataforge.document import Document

from .conftest import Harness, c4_texts


def _run(path: Path, keys: list[int], docs: list[int]) -> Path:
    write_run(path, sort_records(np.array(keys, dtype=np.uint64), np.array(docs, dtype=np.uint32)))
    return path


def test_merge_in_tiny_buffers_equals_a_full_sort(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    runs, allk, alld, off = [], [], [], 0
    for i in range(4):
        n = int(rng.integers(5, 40))
        keys = rng.integers(0, 12, n).astype(np.uint64)  # many equal keys across runs
        runs.append((_run(tmp_path / f"r{i}.run", keys.tolist(), list(range(n))), off))
        allk += keys.tolist()
        alld += [off + d for d in range(n)]
        off += n
    chunks = list(merge_runs(runs, buffer=3))
    k = np.concatenate([c[0] for c in chunks])
    assert np.all(k[1:] >= k[:-1]) and len(k) == len(allk)
    edges = [(int(u), int(v)) for a, b in group_edges(iter(chunks)) for u, v in zip(a, b)]
    groups: dict[int, set[int]] = {}
    for key, d in zip(allk, alld):
        groups.setdefault(key, set()).add(d)
    assert len(edges) == sum(len(g) - 1 for g in groups.values())  # a star per key
    by_member = {v: u for u, v in edges}
    for g in groups.values():
        roots = {by_member.get(d, d) for d in g}
        assert len(roots) == 1  # every member points at the same representative


def test_verify_detects_bit_flip_and_truncation(tmp_path: Path) -> None:
    path = _run(tmp_path / "a.run", [5, 1, 3], [0, 1, 2])
    assert verify_run(path) == 3
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(SignatureFileError, match="checksum mismatch"):
        verify_run(path)
    path.write_bytes(bytes(raw[:-5]))
    with pytest.raises(SignatureFileError, match="truncated"):
        verify_run(path)


def test_unsorted_run_is_refused_in_the_merge(tmp_path: Path) -> None:
    rec = sort_records(np.array([1, 2, 3], dtype=np.uint64), np.arange(3, dtype=np.uint32))[::-1].copy()
    write_run(tmp_path / "bad.run", rec)
    with pytest.raises(SignatureFileError, match="out of order"):
        list(merge_runs([(tmp_path / "bad.run", 0)], buffer=2))


def test_corrupted_task_file_names_file_and_task(harness: Harness) -> None:
    texts = c4_texts(30)
    tasks = [[Document(f"a{i}", t, "web") for i, t in enumerate(texts[:15])],
             [Document(f"b{i}", t, "web") for i, t in enumerate(texts[10:])]]
    victim: dict[str, Path] = {}

    def corrupt(stage_dirs: list[Path]) -> None:
        victim["run"] = sorted(stage_dirs[1].glob("band_003.*.run"))[0]
        raw = bytearray(victim["run"].read_bytes())
        raw[40] ^= 1
        victim["run"].write_bytes(bytes(raw))
        (stage_dirs[0] / "sigs.u32").write_bytes(b"short")

    with pytest.raises(SignatureFileError) as err:
        harness.run(MinhashDedup, {}, tasks, after_map=corrupt)
    e = err.value
    paths = [e.path] + [p for p, _, _ in e.more]
    assert str(victim["run"]) in paths and any(p.endswith("sigs.u32") for p in paths)
    assert [Path(t).name for t in e.task_dirs] == ["t000", "t001"]  # both tasks must be redone
    again = pickle.loads(pickle.dumps(e))  # crosses process pools / Ray intact
    assert again.task_dirs == e.task_dirs and str(again) == str(e)


def test_missing_meta_means_the_task_is_redone(harness: Harness) -> None:
    tasks = [[Document("a", c4_texts(3)[0], "web")]]
    with pytest.raises(SignatureFileError, match="meta.json: unreadable") as err:
        harness.run(MinhashDedup, {}, tasks, after_map=lambda dirs: (dirs[0] / "meta.json").unlink())
    assert err.value.task_dirs and err.value.task_dirs[0].endswith("t000")
