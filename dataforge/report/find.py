"""Finding one document in what a run wrote, streaming (for ``dataforge why``).

Each search reads its files a line (JSONL) or a record batch (Parquet) at a time and
decodes only the lines that hold the id's JSON spelling, so memory stays flat whatever
the output's size. ``prefix`` restricts a search to one task's files: a task's side files
are named after its task id (``<source>--<file name>-<hash>``), so when the document's
input file is known only that file's tasks are read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..readers.jsonl import has_lone_surrogate
from ..readers.lines import TruncatedInput, iter_lines
from .contamination import table_files
from .data import RunData
from .samples import doc_files, jsonl_records

#: what the stage's Recorder writes first in each rejected line (json.dumps' default separators)
_REASON = re.compile(rb'"reason": "((?:[^"\\]|\\.)*)"')


def needles(value: str) -> tuple[bytes, ...]:
    """The ways ``value`` can be spelled inside a JSON line (UTF-8 or \\u escapes)."""
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ascii_ = json.dumps(value, ensure_ascii=True).encode("ascii")
    return (raw,) if raw == ascii_ else (raw, ascii_)


def _named(files: list[Path], prefix: str | None) -> list[Path]:
    return [f for f in files if prefix is None or f.name.startswith(prefix)]


def rel(run: RunData, path: Path) -> str:
    try:
        return str(path.relative_to(run.out))
    except ValueError:
        return str(path)


@dataclass
class Sampled:
    """Rejected samples of one stage for one source: how many per reason (to tell a
    reason whose every drop was sampled from one whose drops were only partly kept)."""

    per_reason: Counter[str] = field(default_factory=Counter)


def rejected(run: RunData, doc_id: str, *, prefix: str | None, source_prefix: str | None,
             damaged: list[str]) -> tuple[list[tuple[str, dict[str, Any], str]], dict[str, Sampled]]:
    """Sampled drops of ``doc_id``: [(stage folder, record, file)], and, per stage folder,
    the samples of the document's source by reason (when ``source_prefix`` is known)."""
    root = run.out / "rejected"
    hits: list[tuple[str, dict[str, Any], str]] = []
    sampled: dict[str, Sampled] = {}
    if not root.is_dir():
        return hits, sampled
    wanted = needles(doc_id)
    for stage_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(stage_dir.glob("*.jsonl"))
        for f in _named(files, prefix):
            for rec in jsonl_records(f, damaged=damaged, containing=wanted):
                if rec.get("id") == doc_id:
                    hits.append((stage_dir.name, rec, rel(run, f)))
        if source_prefix is not None:
            counts = sampled.setdefault(stage_dir.name, Sampled())
            for f in _named(files, source_prefix):
                for reason in _reasons(f, damaged):
                    counts.per_reason[reason] += 1
    return hits, sampled


def _reasons(path: Path, damaged: list[str]) -> Iterator[str]:
    """The reason of each line of a rejected file, read from the line's start (the text
    after it is not decoded); a line of another layout is decoded whole."""
    try:
        for raw in iter_lines(str(path)):
            m = _REASON.search(raw)  # a quote inside a JSON string is escaped: the first match is the key
            if m:
                try:
                    yield json.loads(b'"' + m.group(1) + b'"')
                    continue
                except json.JSONDecodeError:
                    pass
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                continue
            if isinstance(rec, dict):
                yield str(rec.get("reason", "?"))
    except TruncatedInput as exc:
        damaged.append(f"{path}: cut short or corrupt ({exc}); the lines before it were read")


def clusters(run: RunData, doc_id: str, damaged: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """Clusters holding ``doc_id``: [(file, "removed" | "keeper", row without members)].

    Columns are compared as Python lists a batch at a time: pyarrow.compute would import
    pandas on first use (0.7 s, more than the search)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    if has_lone_surrogate(doc_id):
        return out  # Parquet strings are UTF-8: an id with a lone surrogate cannot be in one
    for path in sorted((run.out / "dedup").glob("*clusters.parquet")):
        try:
            pf = pq.ParquetFile(path)
            names = [n for n in ("cluster_id", "size", "keeper", "keeper_source", "removed", "jaccard")
                     if n in pf.schema_arrow.names]
            for batch in pf.iter_batches(columns=names):
                keepers = batch.column("keeper").to_pylist()
                removed = batch.column("removed").to_pylist()
                rows = [(i, "keeper") for i, k in enumerate(keepers) if k == doc_id]
                rows += [(i, "removed") for i, members in enumerate(removed) if members and doc_id in members]
                for i, role in rows:
                    row = batch.slice(i, 1).to_pylist()[0]
                    jac = list(row.get("jaccard") or [])
                    k = removed[i].index(doc_id) if role == "removed" else len(jac)
                    row["jaccard"] = jac[k] if k < len(jac) else None
                    row["removed_count"] = len(row.pop("removed", None) or [])
                    out.append((rel(run, path), role, row))
        except Exception as exc:  # pyarrow raises several types for a damaged file
            damaged.append(f"{path}: unreadable clusters file ({type(exc).__name__}: {exc})")
    return out


def contaminated(run: RunData, doc_id: str, *, prefix: str | None, damaged: list[str]) -> list[tuple[dict[str, Any], str]]:
    """Contamination-table lines of ``doc_id``: [(row, file)]."""
    wanted = needles(doc_id)
    return [(rec, rel(run, f)) for f in _named(table_files(run.out), prefix)
            for rec in jsonl_records(f, damaged=damaged, containing=wanted) if rec.get("doc") == doc_id]


def written(run: RunData, folder: Path, doc_id: str, *, prefix: str | None,
            damaged: list[str]) -> list[tuple[dict[str, Any], str]]:
    """``doc_id`` among the documents a write stage wrote to ``folder``: [(record without text, file)]."""
    out: list[tuple[dict[str, Any], str]] = []
    wanted = needles(doc_id)
    for f in _named(doc_files(folder), prefix):
        if f.name.endswith(".parquet"):
            out += [(rec, rel(run, f)) for rec in _parquet_docs(f, doc_id, damaged)]
            continue
        for rec in jsonl_records(f, damaged=damaged, containing=wanted):
            if rec.get("id") == doc_id:
                rec.pop("text", None)
                out.append((rec, rel(run, f)))
    return out


def _parquet_docs(path: Path, doc_id: str, damaged: list[str]) -> Iterator[dict[str, Any]]:
    """Rows of a written Parquet file with this id (the id column is read first)."""
    if has_lone_surrogate(doc_id):
        return
    try:
        pf = pq.ParquetFile(path)
        cols = [c for c in ("id", "source", "meta") if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(columns=cols):
            for i, x in enumerate(batch.column("id").to_pylist()):
                if x == doc_id:
                    row = batch.slice(i, 1).to_pylist()[0]
                    meta = row.get("meta")
                    row["meta"] = json.loads(meta) if isinstance(meta, str) else meta
                    yield row
    except Exception as exc:  # pyarrow raises several types for a damaged file
        damaged.append(f"{path}: unreadable documents file ({type(exc).__name__}: {exc})")


def by_url(run: RunData, url: str, folders: list[Path], *, limit: int = 20) -> list[str]:
    """Ids of documents with ``meta.url == url`` among rejected samples and written
    documents (both read in full: a URL does not say which task read it)."""
    wanted = needles(url)
    found: dict[str, None] = {}
    files = sorted((run.out / "rejected").glob("*/*.jsonl")) + [f for d in folders for f in doc_files(d)]
    for f in files:
        if f.name.endswith(".parquet"):
            continue  # Parquet documents keep meta as one JSON string: searched below
        for rec in jsonl_records(f, containing=wanted):
            meta = rec.get("meta")
            if isinstance(meta, dict) and meta.get("url") == url and isinstance(rec.get("id"), str):
                found[rec["id"]] = None
                if len(found) >= limit:
                    return list(found)
    for f in (f for d in folders for f in doc_files(d) if f.name.endswith(".parquet")):
        for doc_id in _parquet_url(f, url):
            found[doc_id] = None
    return list(found)[:limit]


def _parquet_url(path: Path, url: str) -> Iterator[str]:
    needle = json.dumps(url, ensure_ascii=False)
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(columns=["id", "meta"]):
            for doc_id, meta in zip(batch.column("id").to_pylist(), batch.column("meta").to_pylist()):
                if isinstance(meta, str) and needle in meta:
                    m = json.loads(meta)
                    if isinstance(m, dict) and m.get("url") == url:
                        yield str(doc_id)
    except Exception:  # noqa: BLE001 - a damaged file holds no URL we can trust
        return


def skipped_in_logs(run: RunData, path: str, where: int) -> list[tuple[str, str]]:
    """``path:where: skipped: reason`` lines of the run logs: [(reason, log file)]."""
    key = f"{path}:{where}: skipped: "
    out = []
    for log in sorted((run.out / "logs").glob("run-*.log")):
        try:
            with open(log, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    i = line.find(key)
                    if i >= 0:
                        out.append((line[i + len(key):].strip(), rel(run, log)))
        except OSError:
            continue
    return out


def task_inputs(run: RunData) -> dict[str, str]:
    """Task id (without a part suffix) -> the input file it read, from the manifest's inputs."""
    from ..runner.plan import task_id_for  # deferred: dataforge.runner's __init__ loads the engine (~0.3 s)

    out = {}
    for e in (run.manifest or {}).get("inputs") or []:
        out[task_id_for(e["source"], e["path"], e["bytes"], e["version"])] = e["path"]
    return out


def task_of(file: str) -> str:
    """The task id a side file is named after (``rejected/x/<task>.jsonl``, ``documents/s/<task>.jsonl.zst``),
    without a ``-pNNNNNofNNNNN`` part suffix."""
    name = Path(file).name
    for ext in (".jsonl.zst", ".jsonl.gz", ".jsonl", ".parquet"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return re.sub(r"-p\d{5}of\d{5}$", "", name)


def locate_in_input(path: str, reader: str, spec: dict[str, Any], doc_id: str) -> tuple[str, int] | None:
    """Where ``doc_id`` is in one input file: ("line", n) for JSON Lines (from 1), ("row", n)
    for Parquet (from 0), by its id field; None when not found or not searchable."""
    if not Path(path).is_file():
        return None
    if reader == "jsonl":
        field_ = spec.get("id_field", "id")
        wanted = needles(doc_id)
        try:
            for n, raw in enumerate(iter_lines(path), 1):
                if any(w in raw for w in wanted):
                    try:
                        rec = json.loads(raw)
                    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                        continue
                    if isinstance(rec, dict) and str(rec.get(field_)) == doc_id:
                        return "line", n
        except (TruncatedInput, OSError):
            return None
    if reader == "parquet":
        column = spec.get("id_column", "id")
        try:
            pf = pq.ParquetFile(path)
            row = 0
            for batch in pf.iter_batches(columns=[column]):
                for i, x in enumerate(batch.column(0).to_pylist()):
                    if x is not None and str(x) == doc_id:
                        return "row", row + i
                row += batch.num_rows
        except Exception:  # noqa: BLE001 - an input that changed since the run: not found
            return None
    return None
