"""Real documents bundled in data/, keyed stably, for the datatrove conformance checks.

Shared by tests/filters/test_conformance.py and benchmarks/bench_filters.py (which
writes datatrove's decisions on these documents to datatrove_decisions.json).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import zstandard

FIXTURE = Path(__file__).with_name("datatrove_decisions.json")

# (path under data/, format, text field)
BUNDLED = [
    ("quality/dclm_labelled.jsonl", "jsonl", "text"),
    ("c4/tiny_c4_sample.jsonl", "jsonl", "text"),
    ("web/fineweb-sample.parquet", "parquet", "text"),
    ("multilingual/hplt-fi.jsonl.zst", "jsonl.zst", "text"),
    ("code/github_sample_50.jsonl", "jsonl", "text"),
    ("wiki/wiki_demo.txt", "lines", ""),
]


def _records(path: Path, fmt: str, key: str) -> Iterator[str]:
    if fmt == "parquet":
        yield from pq.read_table(path, columns=[key]).column(key).to_pylist()
    elif fmt == "lines":
        yield from path.read_text(encoding="utf-8").splitlines()
    else:
        raw = path.open("rb")
        stream = zstandard.ZstdDecompressor().stream_reader(raw) if fmt == "jsonl.zst" else raw
        with io.TextIOWrapper(stream, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)[key]


def bundled_docs(data_dir: Path) -> list[tuple[str, str]]:
    """(key, text) for every non-empty document of the bundled files, in file order."""
    out = []
    for rel, fmt, key in BUNDLED:
        for i, text in enumerate(_records(data_dir / rel, fmt, key or "text")):
            if isinstance(text, str) and text.strip():
                out.append((f"{rel}#{i}", text))
    return out
