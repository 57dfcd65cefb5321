"""The plan: phases cut at barriers (tokenize and its tokenizer training included), tasks
from files and their parts, and append mode's 'seen' test."""

from __future__ import annotations

import os
from pathlib import Path

from dataforge.config import load_pipeline
from dataforge.runner.plan import append_plan, make_plan, number_tasks
from dataforge.tokenize.stage import TokenizeBarrier, TrainTokenizer
from tests.helpers import write_pipeline


def _plan(tmp_path: Path, data_dir: Path, stages: list, **top: object):
    p = write_pipeline(tmp_path / "p.yaml", output=tmp_path / "out",
                       inputs={"c4": {"reader": "jsonl", "paths": f"{data_dir}/c4/*.jsonl*"}}, stages=stages, **top)
    return make_plan(load_pipeline(p))


def test_phases_are_cut_at_every_barrier(tmp_path: Path, data_dir: Path) -> None:
    plan = _plan(tmp_path, data_dir, [{"langid": {}}, {"exact_dedup": {}}, {"gopher_quality": {}},
                                      {"minhash_dedup": {}}, {"write": {}}, {"mix": {}},
                                      {"tokenize": {"train": {"vocab_size": 300}}}])
    assert [p.describe() for p in plan.phases] == [
        "0:langid -> 1:exact_dedup.map",
        "1:exact_dedup.apply -> 2:gopher_quality -> 3:minhash_dedup.map",
        "3:minhash_dedup.apply -> 4:write -> 6:tokenize.train.map",
        "6:tokenize.train.apply -> 6:tokenize.map",
    ]
    assert [p.last for p in plan.phases] == [False, False, False, True]
    assert [b.cls for b in plan.barriers][-2:] == [TrainTokenizer, TokenizeBarrier]
    # the tokenize barrier reads the tokenizer the training barrier writes, in this run's work folder
    assert plan.pack is not None and plan.pack.params.tokenizer_path.startswith(str(plan.work_dir))
    assert plan.pack.params.mix is not None  # mix's options reach the barrier that plans it


def test_no_tokenize_means_a_last_phase_without_exit(tmp_path: Path, data_dir: Path) -> None:
    plan = _plan(tmp_path, data_dir, [{"langid": {}}, {"write": {}}])
    assert [(p.exit, p.last) for p in plan.phases] == [(None, True)]
    assert plan.pack is None and [t.source for t in plan.tasks] == ["c4", "c4"]


def test_big_files_become_numbered_parts(tmp_path: Path, data_dir: Path) -> None:
    plan = _plan(tmp_path, data_dir, [{"write": {}}], executor={"task_bytes": 200_000})
    parts = [t for t in plan.tasks if t.path.endswith("tiny_c4_sample.jsonl")]
    assert len(parts) > 3 and [t.span.part for t in parts] == list(range(len(parts)))
    assert all(t.task_id.endswith(f"-p{t.span.part:05d}of{len(parts):05d}") for t in parts)
    assert [t.first_part for t in parts] == [True] + [False] * (len(parts) - 1)
    number_tasks(plan, {t.task_id: 100 for t in parts})
    parts = [t for t in plan.tasks if t.path.endswith("tiny_c4_sample.jsonl")]
    assert [t.span.first_record for t in parts] == [1 + 100 * k for k in range(len(parts))]


def test_append_keeps_only_unseen_files(tmp_path: Path, data_dir: Path) -> None:
    plan = _plan(tmp_path, data_dir, [{"tokenize": {"tokenizer": f"{data_dir}/tokenizer.json"}}], append=True)
    gz, plain = sorted(plan.tasks, key=lambda t: t.path)
    base = {"config_hash": plan.config_hash, "shards": [{"split": "train"}] * 3,
            "inputs": [{"path": gz.path, "bytes": gz.size, "version": "another mtime", "checksum": "x"},
                       {"path": plain.path, "bytes": plain.size, "version": plain.version}]}
    new = append_plan(plan, base)
    assert [t.path for t in new.tasks] == [gz.path]  # same size, other mtime and other checksum: new
    assert new.pack is not None and new.pack.params.start_index == {"train": 3, "validation": 0}
    assert new.work_dir != plan.work_dir and os.fspath(new.work_dir).startswith(os.fspath(plan.config.output))
