"""What the ``decontaminate`` stage found, per benchmark.

Two records: the counters ``contaminated.<benchmark>`` in stats.json (documents that
matched, exact), and the contamination table, one JSONL file per task under
``decontamination/`` with one line per contaminated document and benchmark: ``{"doc",
"source", "benchmark", "items": [matched item ids, at most max_items], "ngrams",
"action": "removed" | "redacted"}``. The table is read a line at a time; memory grows
with the number of distinct matched items (bounded by the benchmarks' size), never
with the corpus.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .data import RunData
from .samples import jsonl_records

#: the folder the decontaminate stage writes its table to (filters/decontaminate.py TABLE_DIR;
#: not imported, so `dataforge stats` does not load the matcher's numpy index code)
TABLE_DIR = "decontamination"
COUNTER = "contaminated."


@dataclass
class Benchmark:
    name: str
    counted: int = 0  # documents, from the stats counters
    stages: list[str] = field(default_factory=list)
    documents: int = 0  # lines of the table
    removed: int = 0
    redacted: int = 0
    ngrams: int = 0
    items: Counter[str] = field(default_factory=Counter)  # item id -> documents that matched it
    sources: Counter[str] = field(default_factory=Counter)

    def top(self, n: int = 5) -> list[tuple[str, int]]:
        return sorted(self.items.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def to_json(self, top: int = 10) -> dict[str, object]:
        return {"benchmark": self.name, "documents": self.counted or self.documents, "stages": self.stages,
                "table_documents": self.documents, "removed": self.removed, "redacted": self.redacted,
                "ngrams": self.ngrams, "items_matched": len(self.items), "sources": dict(self.sources),
                "top_items": [{"item": i, "documents": n} for i, n in self.top(top)]}


@dataclass
class Contamination:
    benchmarks: list[Benchmark]
    table: bool  # a decontamination/ folder exists
    damaged: list[str]  # files cut short, lines that are not table rows


def contamination(run: RunData) -> Contamination:
    """Per benchmark: the counters and the table's documents, items and sources."""
    found: dict[str, Benchmark] = {}
    for label in run.labels:
        for key, v in run.stats.totals(label).items():
            if key.startswith(COUNTER) and v:
                b = found.setdefault(key[len(COUNTER):], Benchmark(key[len(COUNTER):]))
                b.counted += int(v)
                b.stages.append(label)
    damaged: list[str] = []
    for path in table_files(run.out):
        bad = 0
        for rec in jsonl_records(path, damaged=damaged):
            if not _row_ok(rec):
                bad += 1
                continue
            b = found.setdefault(rec["benchmark"], Benchmark(rec["benchmark"]))
            b.documents += 1
            b.removed += rec.get("action") == "removed"
            b.redacted += rec.get("action") == "redacted"
            b.ngrams += int(rec.get("ngrams") or 0)
            b.items.update({str(i): None for i in rec["items"]}.keys())
            b.sources[str(rec.get("source", "?"))] += 1
        if bad:
            damaged.append(f"{path}: {bad:,} line{'s' if bad != 1 else ''} not contamination rows (skipped)")
    ordered = sorted(found.values(), key=lambda b: (-(b.counted or b.documents), b.name))
    return Contamination(ordered, (run.out / TABLE_DIR).is_dir(), damaged)


def _row_ok(rec: dict[str, object]) -> bool:
    ngrams = rec.get("ngrams", 0)
    return (isinstance(rec.get("benchmark"), str) and isinstance(rec.get("items"), list)
            and isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 0)


def table_files(out: Path) -> list[Path]:
    root = out / TABLE_DIR
    return sorted(root.rglob("*.jsonl")) if root.is_dir() else []  # decontamination/<stage>/<task>.jsonl
