"""The write stage: JSONL (zstd or plain) and Parquet, one file per task and source, under
the task's publish folder (moved into the output when the task commits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zstandard

from dataforge.docstore import read_docs
from dataforge.document import Document
from dataforge.stage import RunInfo, TaskContext
from dataforge.stats import Stats
from dataforge.writers import Write

DOCS = [Document(id=f"d{i}", text=f"text {i} \u00e9 \U0001f600"[: 8 if i % 2 else 10], source="web", meta={"n": i})
        for i in range(5)]


def _run(tmp_path: Path, **opts: object) -> tuple[list[Document], Path]:
    ctx = TaskContext(run=RunInfo(seed=0, output_dir=tmp_path / "out", work_dir=tmp_path / "w", sources=["web"]),
                      task_id="web--a.jsonl-123", label="3:write", stats=Stats(), task_dir=tmp_path / "t",
                      publish_dir=tmp_path / "pub")
    stage = Write(Write.Params(**opts), ctx)
    passed = list(stage.process(iter(DOCS)))
    stage.close()
    return passed, tmp_path / "pub"


@pytest.mark.parametrize("opts, name", [({}, "web--a.jsonl-123.jsonl.zst"),
                                        ({"compression": "none"}, "web--a.jsonl-123.jsonl"),
                                        ({"format": "parquet", "path": "kept"}, "web--a.jsonl-123.parquet")])
def test_every_document_passes_and_is_written_once(tmp_path: Path, opts: dict, name: str) -> None:
    passed, pub = _run(tmp_path, **opts)
    assert passed == DOCS
    folder = pub / str(opts.get("path", "documents")) / "web"
    assert [p.name for p in folder.iterdir()] == [name]
    f = folder / name
    if name.endswith(".parquet"):
        back = [(d.id, d.text, d.meta) for d in read_docs(f)]
    else:
        raw = f.read_bytes()
        if name.endswith(".zst"):
            raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        back = [(r["id"], r["text"], r["meta"]) for r in map(json.loads, raw.decode("utf-8", "surrogatepass").splitlines())]
    assert back == [(d.id, d.text, d.meta) for d in DOCS]


def test_nothing_is_written_for_an_empty_task(tmp_path: Path) -> None:
    ctx = TaskContext(run=RunInfo(seed=0, output_dir=tmp_path, work_dir=tmp_path, sources=[]), task_id="t",
                      label="0:write", stats=Stats(), task_dir=tmp_path / "t", publish_dir=tmp_path / "pub")
    stage = Write(Write.Params(), ctx)
    assert list(stage.process(iter([]))) == []
    stage.close()
    assert not (tmp_path / "pub").exists()
