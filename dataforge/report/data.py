"""What a finished run left behind, read into the figures `report` and `stats` show.

Everything comes from files the run wrote: ``stats.json`` (counters per stage and
source, histograms included), ``manifest.json`` (mixture, shards, versions, the
pipeline file), ``dedup/*clusters.parquet``, ``documents/`` (kept documents, when the
pipeline has a ``write`` stage) and ``rejected/`` (sampled drops). Readers stream:
memory does not grow with the corpus, only with the samples asked for.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataforgeError
from ..readers.base import READ_LABEL as READ
from ..runner.finalize import PACK_LABEL as PACK
from ..stats import HIST, Stats, size_bin_edge, stage_order
from ..tokenize.shards import MANIFEST

class ReportError(DataforgeError):
    """The folder is not a dataforge output, or one of its files is unreadable."""


@dataclass
class FunnelRow:
    label: str
    docs: dict[str, int]  # per source, after this stage
    bytes: dict[str, int]
    tokens: dict[str, int] | None  # exact at tokenize and after, else estimated; None: no tokenizer ran
    exact_tokens: bool
    applies: set[str] = field(default_factory=set)  # sources this stage saw

    @property
    def total_docs(self) -> int:
        return sum(self.docs.values())

    @property
    def total_tokens(self) -> int | None:
        return None if self.tokens is None else sum(self.tokens.values())


@dataclass
class RunData:
    out: Path
    stats: Stats
    manifest: dict[str, Any] | None
    last_run: dict[str, Any] | None

    @property
    def labels(self) -> list[str]:
        """Labels in pipeline order, from the stats' ``stages`` table."""
        return self.stats.order()

    def kind(self, label: str) -> str | None:
        row = self.stats.row(label)
        if row is not None:
            return str(row["kind"])
        return "reader" if label == READ else ("pack" if label == PACK else None)

    @property
    def sources(self) -> list[str]:
        """Input names, in the pipeline file's order when known."""
        seen = {s for per in self.stats.counts.values() for s in per if s != "*"}
        declared = list((self.pipeline() or {}).get("inputs") or {})
        return [s for s in declared if s in seen] + sorted(seen - set(declared))

    def pipeline(self) -> dict[str, Any] | None:
        """The pipeline file as run (manifest first; logs/last_run.json for runs without shards)."""
        p = (self.manifest or {}).get("pipeline") or (self.last_run or {}).get("pipeline")
        return p if isinstance(p, dict) else None

    @property
    def runs(self) -> int:
        """How many runs built this output (more than one in append mode)."""
        return len((self.manifest or {}).get("runs") or []) or 1


def load_run(out: str | Path) -> RunData:
    """Read an output folder; a clear error when it is not one. A folder with shards but no
    stats.json (``tokenize-sft``) gives a run with empty stats: its report shows the shards."""
    out = Path(out)
    if not out.is_dir():
        raise ReportError(f"{out}: no such output directory")
    stats_file = out / "stats.json"
    manifest = _json(out / MANIFEST)
    last_run = _json(out / "logs" / "last_run.json")
    if not stats_file.exists():
        if manifest is not None:
            return RunData(out=out, stats=Stats(), manifest=manifest, last_run=last_run)
        raise ReportError(f"{stats_file}: missing; is {out} the output of a finished `dataforge run`?")
    try:
        stats = Stats.load(stats_file)
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise ReportError(f"{stats_file}: not a dataforge stats file ({exc})") from exc
    return RunData(out=out, stats=stats, manifest=manifest, last_run=last_run)


def _json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from exc
    return data if isinstance(data, dict) else None


# ---- the funnel ---------------------------------------------------------------------
def funnel(run: RunData) -> list[FunnelRow]:
    """Documents, bytes and tokens per source after each stage, in pipeline order.

    A stage limited by ``sources:`` passes the others through unchanged, so their counts
    carry over. Tokens are exact from the tokenize stage on (it counts them); before it,
    each source's tokens are its bytes times that source's measured tokens per byte (the
    pooled ratio for a source that reached no tokenizer). Without a tokenize stage there
    are no token figures at all."""
    sources = run.sources
    docs = dict.fromkeys(sources, 0)
    size = dict.fromkeys(sources, 0)
    rows: list[tuple[str, dict[str, int], dict[str, int], set[str]]] = []
    tokenize_label = None
    for label in run.labels:
        per = run.stats.counts[label]
        kind = run.kind(label)
        if kind == "pack":
            continue
        if kind == "tokenize" or (kind is None and any("tokens" in keys and "docs_out" not in keys
                                                       for s, keys in per.items() if s != "*")):
            tokenize_label = label  # the encode stage: counts tokens, passes nothing on
            continue
        applies = {s for s, keys in per.items() if s != "*" and ("docs_out" in keys or "docs_in" in keys)}
        if not applies:
            continue
        for s in applies:
            docs[s] = int(per[s].get("docs_out", 0))
            size[s] = int(per[s].get("bytes_out", 0))
        rows.append((label, dict(docs), dict(size), applies))
    if tokenize_label is None:
        return [FunnelRow(label, d, b, None, False, applies) for label, d, b, applies in rows]
    tok = run.stats.counts[tokenize_label]
    per_byte: dict[str, float] = {}
    if rows:
        last_bytes = rows[-1][2]
        per_byte = {s: tok[s].get("tokens", 0) / last_bytes[s] for s in sources if s in tok and last_bytes.get(s)}
        measured_bytes = sum(last_bytes[s] for s in per_byte)
        pooled = sum(tok[s].get("tokens", 0) for s in per_byte) / measured_bytes if measured_bytes else 0.0
        per_byte = {s: per_byte.get(s, pooled) for s in sources}
    out = [FunnelRow(label, d, b, {s: round(b[s] * per_byte.get(s, 0.0)) for s in sources}, False, applies)
           for label, d, b, applies in rows]
    out.append(FunnelRow(tokenize_label, {s: int(tok.get(s, {}).get("docs_in", 0)) for s in sources},
                         dict(size), {s: int(tok.get(s, {}).get("tokens", 0)) for s in sources}, True,
                         {s for s in sources if s in tok}))
    pack = run.stats.counts.get(run.stats.label_of("pack") or PACK)
    if pack:
        def both(s: str, key: str) -> int:
            return int(pack.get(s, {}).get(f"train_{key}", 0) + pack.get(s, {}).get(f"validation_{key}", 0))
        out.append(FunnelRow("mix + shards", {s: both(s, "docs") for s in sources}, {},
                             {s: both(s, "tokens") for s in sources}, True, {s for s in sources if s in pack}))
    return out


def drop_reasons(run: RunData) -> list[tuple[str, int, dict[str, Counter[str]]]]:
    """Per stage with drops: (label, documents in, {reason: Counter(source -> n)}), biggest first."""
    out = []
    for label in run.labels:
        reasons: dict[str, Counter[str]] = {}
        for source, keys in run.stats.counts[label].items():
            for k, v in keys.items():
                if k.startswith(("dropped.", "skipped.")) and v:
                    reasons.setdefault(k, Counter())[source] += int(v)
        if reasons:
            ordered = dict(sorted(reasons.items(), key=lambda kv: -sum(kv[1].values())))
            out.append((label, int(run.stats.totals(label).get("docs_in", 0)), ordered))
    return out


# ---- histograms ---------------------------------------------------------------------
def histogram(run: RunData, name: str, label: str | None = None, source: str | None = None) -> dict[int, int]:
    """Bin -> count of histogram ``name`` summed over stages (or one) and sources (or one)."""
    prefix = f"{HIST}{name}."
    out: Counter[int] = Counter()
    counts = run.stats.counts
    for lab in ([label] if label is not None else list(counts)):
        per = counts.get(lab, {})
        for src in ([source] if source is not None else list(per)):
            for k, v in per.get(src, {}).items():
                if k.startswith(prefix) and k[len(prefix):].isdigit():
                    out[int(k[len(prefix):])] += int(v)
    return dict(out)


def length_histograms(run: RunData) -> tuple[dict[int, int], dict[int, int], str | None]:
    """Byte-length histograms of every document read, and of the documents kept: for each
    source, the output of the last stage that saw it (stages may be limited by ``sources:``).
    The label names the last stage with a length histogram."""
    read = histogram(run, "bytes", READ)
    kept: Counter[int] = Counter()
    last_label = None
    for source in run.sources:
        last = None
        for label in run.labels:
            if label != READ and histogram(run, "bytes", label, source):
                last = label
        if last is not None:
            kept.update(histogram(run, "bytes", last, source))
            if last_label is None or stage_order(last) > stage_order(last_label):
                last_label = last
    return read, dict(kept), last_label


def size_label(b: int) -> str:
    n = size_bin_edge(b)
    for unit, div in (("MB", 10**6), ("KB", 10**3)):
        if n >= div:
            v = n / div
            return f"{v:.0f} {unit}" if v >= 10 or v.is_integer() else f"{v:.1f} {unit}"
    return f"{n} B"


def languages(run: RunData) -> Counter[str]:
    out: Counter[str] = Counter()
    for per in run.stats.counts.values():
        for keys in per.values():
            for k, v in keys.items():
                if k.startswith("lang."):
                    out[k[5:]] += int(v)
    return out


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
    import heapq

    import pyarrow.parquet as pq

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
    import pyarrow.parquet as pq

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


# ---- mixture ------------------------------------------------------------------------
def mixture(run: RunData) -> list[dict[str, Any]]:
    """Per source: configured weight, target and realised share and tokens, epochs."""
    m = run.manifest or {}
    sources = m.get("sources") or {}
    inputs = (m.get("pipeline") or {}).get("inputs") or {}
    realised_total = sum(v.get("tokens_realised", 0) for v in sources.values()) or 1
    rows = []
    for name in run.sources:
        v = sources.get(name)
        if v is None:
            continue
        spec = inputs.get(name) or {}
        rows.append({"source": name, "weight": spec.get("weight"), "tokens": spec.get("tokens"),
                     "target_share": v.get("share", 0.0),
                     "realised_share": v.get("tokens_realised", 0) / realised_total,
                     **v})
    return rows


# ---- samples ------------------------------------------------------------------------
def _jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a jsonl file (plain or .zst), streaming; damaged lines are skipped."""
    from ..readers.lines import TruncatedInput, iter_lines

    it = iter_lines(str(path))
    while True:
        try:
            raw = next(it)
        except (StopIteration, TruncatedInput):
            return
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(rec, dict):
            yield rec


def documents_dir(run: RunData) -> Path:
    """Where the run's (last) write stage put documents: its ``path`` option made one safe
    folder name, as the stage does; documents/ by default."""
    from ..stage import safe_name

    path = "documents"
    for entry in (run.pipeline() or {}).get("stages") or []:
        if isinstance(entry, dict) and "write" in entry:
            opts = entry["write"] if isinstance(entry["write"], dict) else {}
            path = str(opts.get("path") or "documents")
    return run.out / safe_name(path)


def _doc_records(path: Path) -> Iterator[dict[str, Any]]:
    """Documents of one written file, JSONL (plain or .zst) or Parquet, streaming."""
    if path.name.endswith(".parquet"):
        from ..runner.docstore import read_docs

        for doc in read_docs(path):
            yield {"id": doc.id, "text": doc.text, "source": doc.source, "meta": doc.meta}
    else:
        yield from _jsonl_records(path)


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
            for rec in _doc_records(f):
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
    from ..stage import safe_name

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
            for rec in _jsonl_records(f):
                bucket = by_reason.setdefault(str(rec.get("reason", "?")), [])
                if len(bucket) < per_reason:
                    bucket.append(rec)
            if wanted and all(len(by_reason.get(r, ())) >= min(per_reason, n) for r, n in wanted.items()):
                break  # a reason counted only once needs only its one sample
        out[stage_dir.name] = by_reason
    return out
