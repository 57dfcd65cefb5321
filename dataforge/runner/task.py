"""One task: one input file through one phase's stages, committed atomically.

``run_task`` is what an executor calls (top-level and picklable, for local processes
and Ray alike). It builds the stream as chained generators - reader (or the previous
phase's documents) -> entry barrier's apply -> stages -> exit barrier's map - drains it
into the phase's output, and commits the task folder with its stats and marker last.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import InputSpec
from ..document import Document
from ..io import apply_storage_options, checksum, fetch_to, is_url
from ..readers.base import READ_LABEL, Span
from ..stage import RunInfo, Stage, TaskContext
from ..stats import LANG_IN, LANG_OUT, Stats, size_bin
from ..docstore import read_docs, write_docs
from .plan import Phase, TaskSpec
from .state import commit_dir, fresh_tmp_dir, is_done

log = logging.getLogger(__name__)

DOCS_FILE = "docs.parquet"
INPUT_FILE = "input.json"
STATS_FILE = "stats.json"


@dataclass
class TaskJob:
    run: RunInfo
    phase: Phase
    task: TaskSpec
    phase_dir: Path
    prev_dir: Path | None  # the same task's folder in the previous phase (None in phase 0)
    input: InputSpec | None  # the reader to use in phase 0
    output: str  # "docs" (a next phase reads them) or "none" (the last phase)


def run_task(job: TaskJob) -> dict[str, Any]:
    """Run one task unless its marker exists; returns its stats as a dict."""
    apply_storage_options(job.run.storage_options)
    handler = _log_to_run_file(job.run.log_file)
    try:
        return _run_task(job)
    finally:
        if handler is not None:  # never keep the output's log file open between tasks
            logging.getLogger("dataforge").removeHandler(handler)
            handler.close()


def _run_task(job: TaskJob) -> dict[str, Any]:
    final = job.phase_dir / job.task.task_id
    if is_done(final):
        return Stats.load(final / STATS_FILE).to_dict()
    tmp = fresh_tmp_dir(final)
    stats = Stats()
    publish = tmp / "publish"

    def context(label: str) -> TaskContext:
        return TaskContext(run=job.run, task_id=job.task.task_id, label=label, stats=stats, task_dir=tmp,
                           publish_dir=publish)

    stream: Iterable[Document] = _source_stream(job, stats, tmp)
    opened: list[Stage[Any]] = []
    phase = job.phase
    if phase.entry is not None:
        entry, entry_ctx = phase.entry.cls(phase.entry.params), context(phase.entry.label)
        stream = _instrument(lambda docs: entry.apply(docs, entry_ctx), stream, stats, phase.entry.label)
    for spec in phase.stages:
        if not spec.applies_to(job.task.source):
            continue
        stage = spec.cls(spec.params, context(spec.label))
        opened.append(stage)
        stream = _instrument(stage.process, stream, stats, spec.label)
    if phase.exit is not None:
        exit_, exit_ctx = phase.exit.cls(phase.exit.params), context(phase.exit.label)
        stream = _instrument(lambda docs: exit_.map(docs, exit_ctx), stream, stats, phase.exit.label, count_docs=False)

    if job.output == "docs":
        write_docs(tmp / DOCS_FILE, stream)
    else:
        for _ in stream:
            pass
    for stage in opened:
        stage.close()
    stats.to_json_file(tmp / STATS_FILE)
    commit_dir(tmp, final, output_dir=job.run.output_dir, info={"task": job.task.task_id})
    return stats.to_dict()


def _log_to_run_file(path: str | None) -> logging.Handler | None:
    """In a worker process, send the library's log records to the run's log file too.

    Returns the handler to remove after the task (None in the driver, which has its own)."""
    if path is None:
        return None
    root = logging.getLogger("dataforge")
    if any(getattr(h, "baseFilename", None) == str(Path(path).resolve()) for h in root.handlers):
        return None
    return attach_run_log(path)


def attach_run_log(path: str | Path) -> logging.Handler:
    """Append the library's INFO-and-up records to the run's log file (driver and workers alike)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"))
    root = logging.getLogger("dataforge")
    root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


def _source_stream(job: TaskJob, stats: Stats, tmp_dir: Path) -> Iterable[Document]:
    if job.prev_dir is not None:
        return read_docs(job.prev_dir / DOCS_FILE)
    assert job.input is not None
    reader = job.input.reader_cls(job.input.reader_params, source=job.task.source, stats=stats)
    path, span = job.task.path, job.task.span
    if is_url(path):  # object stores: stream a copy into the task's scratch folder (removed with it)
        local = fetch_to(path, tmp_dir / ("input" + "".join(Path(path).suffixes[-2:])))
        _record_checksum(tmp_dir, local)

        local_prefix, url_prefix = reader.doc_id(str(local), ""), reader.doc_id(path, "")

        def read(_: object) -> Iterator[Document]:
            for doc in reader.read(str(local)):
                if doc.id.startswith(local_prefix):  # fallback ids name the URL, not the scratch copy
                    doc.id = url_prefix + doc.id[len(local_prefix):]
                yield doc
            local.unlink()

        return _instrument(read, (), stats, READ_LABEL, count_in=False)
    if job.task.first_part:  # one checksum per file, not per part
        _record_checksum(tmp_dir, Path(path))
    return _instrument(lambda _: reader.read(path, span), (), stats, READ_LABEL, count_in=False)


def count_part(inp: InputSpec, path: str, span: Span) -> int | None:
    """In a worker: how many records start in one part of a split file (``Reader.count``)."""
    reader = inp.reader_cls(inp.reader_params, source=inp.name, stats=Stats())
    return reader.count(path, span)


def _record_checksum(tmp_dir: Path, local: Path) -> None:
    """The input's content checksum, taken in the worker (in parallel, and for an object-store
    input on the copy already fetched), for the manifest and append mode's "seen" test."""
    (tmp_dir / INPUT_FILE).write_text(json.dumps({"checksum": checksum(str(local))}))


def _instrument(fn: Any, upstream: Iterable[Document], stats: Stats, label: str, *,
                count_in: bool = True, count_docs: bool = True) -> Iterator[Document]:
    """Wrap ``fn(upstream)`` counting docs/bytes in and out per source, and the time
    spent in this stage alone (its own time minus the time spent pulling upstream)."""
    upstream_time = 0.0
    counts: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))

    def pulled() -> Iterator[Document]:
        nonlocal upstream_time
        it = iter(upstream)
        while True:
            t0 = time.perf_counter()
            try:
                doc = next(it)
            except StopIteration:
                upstream_time += time.perf_counter() - t0
                return
            upstream_time += time.perf_counter() - t0
            if count_in and count_docs:
                c = counts[doc.source]
                c["docs_in"] += 1
                c["bytes_in"] += len(doc.text.encode("utf-8", "surrogatepass"))
                lang = doc.meta.get("lang")
                if isinstance(lang, str):  # per-language funnel (set by langid): no silent language loss
                    c[f"{LANG_IN}{lang}"] += 1
            yield doc

    out = iter(fn(pulled()))
    own = 0.0
    try:
        while True:
            t0 = time.perf_counter()
            try:
                doc = next(out)
            except StopIteration:
                own += time.perf_counter() - t0
                break
            own += time.perf_counter() - t0
            if count_docs:
                c = counts[doc.source]
                size = len(doc.text.encode("utf-8", "surrogatepass"))
                c["docs_out"] += 1
                c["bytes_out"] += size
                c[f"hist.bytes.{size_bin(size)}"] += 1  # the length histogram of `dataforge report`
                lang = doc.meta.get("lang")
                if isinstance(lang, str) and count_in:
                    c[f"{LANG_OUT}{lang}"] += 1
            yield doc
    finally:
        for source, keys in counts.items():
            for key, n in keys.items():
                stats.add(label, source, key, n)
        stats.add(label, "*", "seconds", max(0.0, own - upstream_time))
