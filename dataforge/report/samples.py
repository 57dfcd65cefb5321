"""Documents a run kept samples of: kept documents (``documents/``), sampled drops
(``rejected/``) and dedup clusters (``dedup/*clusters.parquet``), read streaming.

Memory grows with the samples asked for, never with the corpus: JSONL files are read a
line at a time, Parquet files a record batch at a time. A damaged line is skipped (and
counted where the caller asks); a damaged file is a ``ReportError`` naming it.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..docstore import read_docs
from ..readers.lines import TruncatedInput, iter_lines
from ..stage import safe_name
from .data import RunData
from .files import ReportError

# ---- dedup --------------------------------------------------------------------------
@dataclass
class Clusters:
    file: str
    sizes: Counter[int]
    removed: int
    largest: list[dict[str, Any]]


def clusters(run: RunData, top: int = 8) -> list[Clusters]:
    """Cluster-size counts and the ``top`` largest clusters of each dedup clusters file.

    One pass over the ``size`` column, a second over whole rows to pick the largest
    (memory: one record batch and ``top`` rows, whatever the file's size)."""
    out = []
    for path in sorted((run.out / "dedup").glob("*clusters.parquet")):
        sizes: Counter[int] = Counter()
        try:
            pf = pq.ParquetFile(path)

            def size_rows() -> Iterator[tuple[int, int]]:
                row = 0
                for batch in pf.iter_batches(columns=["size"]):
                    col = batch.column(0).to_pylist()
                    sizes.update(col)
                    for size in col:
                        yield size, -row  # ties: the earlier row first
                        row += 1

            best = heapq.nlargest(top, size_rows())  # bounded: ``top`` items
            wanted = {-neg for _, neg in best}
            found: dict[int, dict[str, Any]] = {}
            row0 = 0
            for batch in pf.iter_batches():  # a second pass, a batch at a time, for the whole rows
                for r in wanted:
                    if row0 <= r < row0 + batch.num_rows:
                        found[r] = batch.slice(r - row0, 1).to_pylist()[0]
                row0 += batch.num_rows
            largest = [found[-neg] for _, neg in best]
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise ReportError(f"{path}: unreadable clusters file ({exc})") from exc
        out.append(Clusters(path.name, sizes, sum((s - 1) * n for s, n in sizes.items()), largest))
    return out


def keepers(run: RunData, removed_ids: set[str]) -> dict[str, str]:
    """For these removed documents, the id of the document each cluster kept (streaming)."""
    out: dict[str, str] = {}
    for path in sorted((run.out / "dedup").glob("*clusters.parquet")):
        try:
            for batch in pq.ParquetFile(path).iter_batches(columns=["keeper", "removed"]):
                for keeper, removed in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                    for rid in removed or ():
                        if rid in removed_ids:
                            out[rid] = keeper
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise ReportError(f"{path}: unreadable clusters file ({exc})") from exc
    return out


# ---- samples ------------------------------------------------------------------------
def jsonl_records(path: Path, *, damaged: list[str] | None = None,
                  containing: tuple[bytes, ...] = ()) -> Iterator[dict[str, Any]]:
    """Records of a jsonl file (plain or .zst), streaming; damaged lines are skipped.

    ``damaged`` collects ``path: what`` for a file cut short and for lines that are not
    JSON objects. ``containing``: parse only lines holding one of these byte strings (a
    search for one id reads every line but decodes only the candidates)."""
    bad = 0
    it = iter_lines(str(path))
    try:
        while True:
            try:
                raw = next(it)
            except StopIteration:
                return
            except TruncatedInput as exc:
                if damaged is not None:
                    damaged.append(f"{path}: cut short or corrupt ({exc}); the lines before it were read")
                return
            if containing and not any(c in raw for c in containing):
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                rec = None
            if isinstance(rec, dict):
                yield rec
            elif raw.strip():
                bad += 1
    finally:
        if bad and damaged is not None:
            damaged.append(f"{path}: {bad:,} line{'s' if bad != 1 else ''} not a JSON object (skipped)")


def write_stages(run: RunData) -> list[tuple[str | None, Path]]:
    """Each write stage of the pipeline: (its stats label, the folder it wrote), in order.
    Its ``path`` option made one safe folder name, as the stage does; documents/ by default."""
    stages = (run.pipeline() or {}).get("stages")
    paths = []
    for entry in stages if isinstance(stages, list) else []:
        if isinstance(entry, dict) and "write" in entry:
            opts = entry["write"] if isinstance(entry["write"], dict) else {}
            paths.append(run.out / safe_name(str(opts.get("path") or "documents")))
    labels = [r["label"] for r in run.stats.stages if r.get("name") == "write"]
    if not paths and (run.out / "documents").is_dir():
        paths = [run.out / "documents"]  # no pipeline file recorded: the default folder
    return [(labels[i] if i < len(labels) else None, p) for i, p in enumerate(paths)]


def documents_dir(run: RunData) -> Path:
    """Where the run's last write stage put documents (documents/ when it has none)."""
    found = write_stages(run)
    return found[-1][1] if found else run.out / "documents"


def doc_files(folder: Path) -> list[Path]:
    """The written files under ``folder/<source>/``, sorted."""
    if not folder.is_dir():
        return []
    return sorted(f for d in sorted(folder.iterdir()) if d.is_dir() for f in d.iterdir()
                  if f.is_file() and (".jsonl" in f.name or f.name.endswith(".parquet")))


def doc_records(path: Path) -> Iterator[dict[str, Any]]:
    """Documents of one written file, JSONL (plain or .zst) or Parquet, streaming."""
    if path.name.endswith(".parquet"):
        docs = read_docs(path)
        while True:
            try:
                doc = next(docs)
            except StopIteration:
                return
            except Exception as exc:  # pyarrow and json raise several types for a damaged file
                raise ReportError(f"{path}: unreadable documents file ({type(exc).__name__}: {exc})") from exc
            yield {"id": doc.id, "text": doc.text, "source": doc.source, "meta": doc.meta}
    else:
        yield from jsonl_records(path)


def kept_samples(run: RunData, per_source: int, seed: int = 0, max_files: int = 8) -> dict[str, list[dict[str, Any]]]:
    """A random sample (reservoir, seeded) of each source's kept documents, drawn from up to
    ``max_files`` of its files (chosen by the same seed), so a report of a big corpus
    reads a few files per source, not all of them."""
    docs_dir = documents_dir(run)
    out: dict[str, list[dict[str, Any]]] = {}
    if per_source <= 0 or not docs_dir.is_dir():
        return out
    for source_dir in sorted(p for p in docs_dir.iterdir() if p.is_dir()):
        rng = random.Random(f"{seed}:{source_dir.name}")
        sample: list[dict[str, Any]] = []
        seen = 0
        files = sorted(p for p in source_dir.iterdir() if p.is_file() and (".jsonl" in p.name or
                                                                            p.name.endswith(".parquet")))
        if len(files) > max_files:
            files = sorted(rng.sample(files, max_files))
        for f in files:
            for rec in doc_records(f):
                seen += 1
                if len(sample) < per_source:
                    sample.append(rec)
                else:
                    j = rng.randrange(seen)
                    if j < per_source:
                        sample[j] = rec
        out[source_dir.name] = sample
    return out


def rejected_samples(run: RunData, per_reason: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Sampled drops under rejected/<stage>/: {stage folder: {reason: [record, ...]}}.

    Files are read in order only until every reason the stage counted has ``per_reason``
    samples, so a run of thousands of tasks costs a few files, not all of them."""
    root = run.out / "rejected"
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    if not root.is_dir() or per_reason <= 0:
        return out
    counted = {safe_name(label): {k.split(".", 1)[1]: int(v) for k, v in run.stats.totals(label).items()
                                  if k.startswith("dropped.")} for label in run.labels}
    order = {safe_name(label): i for i, label in enumerate(run.labels)}
    for stage_dir in sorted((p for p in root.iterdir() if p.is_dir()),
                            key=lambda p: (order.get(p.name, len(order)), p.name)):
        by_reason: dict[str, list[dict[str, Any]]] = {}
        wanted = counted.get(stage_dir.name)
        for f in sorted(stage_dir.glob("*.jsonl")):
            for rec in jsonl_records(f):
                bucket = by_reason.setdefault(str(rec.get("reason", "?")), [])
                if len(bucket) < per_reason:
                    bucket.append(rec)
            if wanted and all(len(by_reason.get(r, ())) >= min(per_reason, n) for r, n in wanted.items()):
                break  # a reason counted only once needs only its one sample
        out[stage_dir.name] = by_reason
    return out
