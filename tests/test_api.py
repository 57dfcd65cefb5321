"""The Python API, on a real small run: an in-memory config, documents, stats, shards as
numpy views and a torch Dataset; and the README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import dataforge
from dataforge.errors import ConfigError, DataforgeError

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def config(tmp_path: Path, data_dir: Path) -> dict:
    return {"seed": 5, "output": str(tmp_path / "out"),
            "inputs": {"c4": {"reader": "jsonl", "paths": f"{data_dir}/c4/tiny_c4_sample.jsonl"},
                       "wiki": {"reader": "text", "paths": f"{data_dir}/wiki/wiki_demo.txt", "split": "line"}},
            "stages": [{"gopher_repetition": {}}, {"write": {"format": "parquet"}},
                       {"tokenize": {"tokenizer": f"{data_dir}/tokenizer.json", "seq_len": 64,
                                     "validation_fraction": 0.1}}]}


def test_run_an_in_memory_config_and_read_everything(tmp_path: Path, data_dir: Path) -> None:
    result = dataforge.run(config(tmp_path, data_dir))
    assert not result.nothing_to_do and result.manifest["tokens"]["train"] > 0
    out = dataforge.open_output(tmp_path / "out")
    kept = out.stats.totals("0:gopher_repetition")["docs_out"]
    docs = list(out.documents())
    assert len(docs) == kept and {d.source for d in docs} == {"c4", "wiki"}
    assert len(list(out.documents("wiki"))) == out.stats.get("0:gopher_repetition", "docs_out", source="wiki")
    rows = sum(len(t) for t in out.tokens("train"))
    assert rows * 64 == out.manifest["tokens"]["train"]
    for t in out.tokens("validation"):
        assert t.dtype == np.uint16 and not t.flags.owndata  # a view of the memory-mapped shard
    torch = pytest.importorskip("torch", reason="the torch Dataset needs the train extra")
    ds = out.torch_dataset("train")
    assert len(ds) == rows
    item = ds[len(ds) - 1]
    assert item["input_ids"].dtype == torch.int64 and item["input_ids"].shape == (64,)
    loader = torch.utils.data.DataLoader(ds, batch_size=8)
    assert next(iter(loader))["input_ids"].shape == (8, 64)
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert dataforge.run(config(tmp_path, data_dir)).nothing_to_do  # a rerun has nothing to do


def test_errors_are_the_librarys(tmp_path: Path, data_dir: Path) -> None:
    bad = config(tmp_path, data_dir)
    bad["stages"][0] = {"gopher_repetiton": {}}
    with pytest.raises(ConfigError, match="did you mean 'gopher_repetition'"):
        dataforge.load(bad)
    with pytest.raises(DataforgeError, match="no such output folder"):
        dataforge.open_output(tmp_path / "nowhere")


def test_the_readme_example_runs(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"## Python API.*?```python\n(.*?)```", README, re.S)
    assert block, "the README has a Python API section with a python example"
    work = tmp_path / "proj"
    work.mkdir()
    (work / "data").symlink_to(data_dir)
    monkeypatch.chdir(work)
    pytest.importorskip("torch", reason="the README example ends with torch_dataset (the train extra)")
    exec(compile(block.group(1), "README.md", "exec"), {})
    assert (work / "out" / "notebook" / "manifest.json").exists()


def test_progress_events_are_typed(tmp_path: Path, data_dir: Path) -> None:
    from dataforge.runner.events import PhaseEnd, PhaseStart, StepEnd, StepStart, TaskDone, UpToDate

    seen: list = []
    dataforge.run(config(tmp_path, data_dir), on_event=seen.append)
    kinds = [type(e) for e in seen]
    assert kinds[0] is PhaseStart and PhaseEnd in kinds and StepStart in kinds and StepEnd in kinds
    starts = [e for e in seen if isinstance(e, PhaseStart)]
    assert sum(1 for e in seen if isinstance(e, TaskDone)) == sum(s.total - s.done for s in starts)
    again: list = []
    dataforge.run(config(tmp_path, data_dir), on_event=again.append)
    assert [type(e) for e in again] == [UpToDate]
