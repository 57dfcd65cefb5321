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
from ..stats import HIST, Stats, size_bin_edge
from ..tokenize.shards import MANIFEST

READ = "read"
PACK = "pack"


class ReportError(DataforgeError):
    """The folder is not a dataforge output, or one of its files is unreadable."""


def stage_order(label: str) -> tuple[int, str]:
    """read first, then stages by their pipeline index, then pack."""
    head = label.split(":", 1)[0]
    if label == READ:
        return (-1, label)
    return (int(head) if head.isdigit() else 10**6, label)


def stage_name(label: str) -> str:
    return label.split(":", 1)[1] if ":" in label else label


@dataclass
class FunnelRow:
    label: str
    docs: dict[str, int]  # per source, after this stage
    bytes: dict[str, int]
    tokens: dict[str, int]  # per source: exact at tokenize and after, else estimated from bytes
    exact_tokens: bool
    applies: set[str] = field(default_factory=set)  # sources this stage saw

    @property
    def total_docs(self) -> int:
        return sum(self.docs.values())

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens.values())


@dataclass
class RunData:
    out: Path
    stats: Stats
    manifest: dict[str, Any] | None
    last_run: dict[str, Any] | None

    @property
    def labels(self) -> list[str]:
        return sorted(self.stats.counts, key=stage_order)

    @property
    def sources(self) -> list[str]:
        """Input names, in the pipeline file's order when known."""
        seen = {s for per in self.stats.counts.values() for s in per if s != "*"}
        declared = list(((self.manifest or {}).get("pipeline") or {}).get("inputs") or {})
        return [s for s in declared if s in seen] + sorted(seen - set(declared))

    def pipeline(self) -> dict[str, Any] | None:
        return (self.manifest or {}).get("pipeline")


def load_run(out: str | Path) -> RunData:
    """Read an output folder; a clear error when it is not one."""
    out = Path(out)
    if not out.is_dir():
        raise ReportError(f"{out}: no such output directory")
    stats_file = out / "stats.json"
    if not stats_file.exists():
        raise ReportError(f"{stats_file}: missing; is {out} the output of a finished `dataforge run`?")
    try:
        stats = Stats.load(stats_file)
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise ReportError(f"{stats_file}: not a dataforge stats file ({exc})") from exc
    return RunData(out=out, stats=stats, manifest=_json(out / MANIFEST), last_run=_json(out / "logs" / "last_run.json"))


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
    each source's tokens are its bytes times that source's measured tokens per byte."""
    sources = run.sources
    docs = dict.fromkeys(sources, 0)
    size = dict.fromkeys(sources, 0)
    rows: list[tuple[str, dict[str, int], dict[str, int], set[str]]] = []
    tokenize_label = None
    for label in run.labels:
        per = run.stats.counts[label]
        if label == PACK:
            continue
        if any("tokens" in keys and "docs_out" not in keys for s, keys in per.items() if s != "*"):
            tokenize_label = label  # the encode stage: counts tokens, passes nothing on
            continue
        applies = {s for s, keys in per.items() if s != "*" and ("docs_out" in keys or "docs_in" in keys)}
        if not applies:
            continue
        for s in applies:
            docs[s] = int(per[s].get("docs_out", 0))
            size[s] = int(per[s].get("bytes_out", 0))
        rows.append((label, dict(docs), dict(size), applies))
    per_byte: dict[str, float] = {}
    if tokenize_label is not None and rows:
        tok = run.stats.counts[tokenize_label]
        last_bytes = rows[-1][2]
        per_byte = {s: tok[s].get("tokens", 0) / last_bytes[s] for s in sources if s in tok and last_bytes.get(s)}
    out = [FunnelRow(label, d, b, {s: round(b[s] * per_byte.get(s, 0.0)) for s in sources}, False, applies)
           for label, d, b, applies in rows]
    if tokenize_label is not None:
        tok = run.stats.counts[tokenize_label]
        out.append(FunnelRow(tokenize_label, {s: int(tok.get(s, {}).get("docs_in", 0)) for s in sources},
                             dict(size), {s: int(tok.get(s, {}).get("tokens", 0)) for s in sources}, True,
                             {s for s in sources if s in tok}))
    pack = run.stats.counts.get(PACK)
    if pack:
        out.append(FunnelRow(
            "mix + shards",
            {s: int(pack.get(s, {}).get("train_docs", 0) + pack.get(s, {}).get("validation_docs", 0)) for s in sources},
            {}, {s: int(pack.get(s, {}).get("train_tokens", 0) + pack.get(s, {}).get("validation_tokens", 0))
                 for s in sources}, True, {s for s in sources if s in pack}))
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
    for lab, per in run.stats.counts.items():
        if label is not None and lab != label:
            continue
        for src, keys in per.items():
            if source is not None and src != source:
                continue
            for k, v in keys.items():
                if k.startswith(prefix) and k[len(prefix):].isdigit():
                    out[int(k[len(prefix):])] += int(v)
    return dict(out)


def length_histograms(run: RunData) -> tuple[dict[int, int], dict[int, int], str | None]:
    """Byte-length histograms of every document read and of those the last stage kept."""
    streaming = [lab for lab in run.labels if histogram(run, "bytes", lab)]
    read = histogram(run, "bytes", READ) if READ in streaming else {}
    last = streaming[-1] if streaming and streaming[-1] != READ else None
    return read, (histogram(run, "bytes", last) if last else {}), last


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
    """Cluster-size counts and the ``top`` largest clusters of each dedup clusters file,
    in one streaming pass (memory: one record batch and ``top`` rows)."""
    import heapq

    import pyarrow.parquet as pq

    out = []
    for path in sorted((run.out / "dedup").glob("*clusters.parquet")):
        sizes: Counter[int] = Counter()
        best: list[tuple[int, int, dict[str, Any]]] = []  # min-heap of (size, -row number, row)
        row0 = 0
        try:
            for batch in pq.ParquetFile(path).iter_batches():
                col = batch.column("size").to_pylist()
                sizes.update(col)
                for i, size in enumerate(col):
                    if len(best) < top or size > best[0][0]:
                        item = (size, -(row0 + i), batch.slice(i, 1).to_pylist()[0])
                        (heapq.heappush if len(best) < top else heapq.heapreplace)(best, item)
                row0 += batch.num_rows
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise ReportError(f"{path}: unreadable clusters file ({exc})") from exc
        largest = [row for _, _, row in sorted(best, key=lambda t: (-t[0], -t[1]))]
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
    """Where the run's write stage put documents (its ``path`` option, default documents/)."""
    for entry in (run.pipeline() or (run.last_run or {}).get("pipeline") or {}).get("stages") or []:
        if isinstance(entry, dict) and isinstance(entry.get("write"), dict) and entry["write"].get("path"):
            return run.out / str(entry["write"]["path"])
    return run.out / "documents"


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
    counted = {safe_name(label): {k.split(".", 1)[1] for k in run.stats.totals(label) if k.startswith("dropped.")}
               for label in run.labels}
    for stage_dir in sorted((p for p in root.iterdir() if p.is_dir()),
                            key=lambda p: stage_order(p.name.replace("_", ":", 1))):
        by_reason: dict[str, list[dict[str, Any]]] = {}
        wanted = counted.get(stage_dir.name)
        for f in sorted(stage_dir.glob("*.jsonl")):
            for rec in _jsonl_records(f):
                bucket = by_reason.setdefault(str(rec.get("reason", "?")), [])
                if len(bucket) < per_reason:
                    bucket.append(rec)
            if wanted and all(len(by_reason.get(r, ())) >= per_reason for r in wanted):
                break
        out[stage_dir.name] = by_reason
    return out
