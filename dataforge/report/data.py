"""What a finished run left behind, read into the figures `report` and `stats` show.

Everything comes from files the run wrote: ``stats.json`` (counters per stage and
source, histograms included), ``manifest.json`` (mixture, shards, versions, the
pipeline file), ``dedup/*clusters.parquet``, ``documents/`` (kept documents, when the
pipeline has a ``write`` stage), ``rejected/`` (sampled drops) and ``decontamination/``
(see ``samples``, ``langs`` and ``contamination``). Readers stream: memory does not grow
with the corpus, only with the samples asked for.

A damaged ``manifest.json`` or ``logs/last_run.json`` is not fatal: ``load_run`` notes it
in ``RunData.problems`` (file -> message) and goes on without it, so ``stats`` does not
need a manifest it does not use and the report loses only the sections that need it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..readers.base import READ_LABEL as READ
from ..stats import HIST, PACK_LABEL, Stats, size_bin_edge, stage_order
from ..tokenize.shards import MANIFEST
from .files import ReportError, load_last_run, load_manifest, load_stats_json

__all__ = ["READ", "ReportError", "FunnelRow", "RunData", "load_run", "funnel", "drop_reasons",
           "histogram", "length_histograms", "size_label", "languages", "mixture"]
STATS = "stats.json"
LAST_RUN = "logs/last_run.json"


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
    #: files that exist but could not be used: name relative to ``out`` -> message naming the file
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        """Labels in pipeline order, from the stats' ``stages`` table."""
        return self.stats.order()

    def kind(self, label: str) -> str | None:
        row = self.stats.row(label)
        if row is not None:
            return str(row["kind"])
        return "reader" if label == READ else ("pack" if label == PACK_LABEL else None)

    @property
    def pack_label(self) -> str:
        """The pack stage's label (from the stages table; the runner's name for format-1 stats)."""
        return self.stats.label_of("pack") or PACK_LABEL

    def keys(self, label: str, source: str) -> dict[str, float]:
        """One stage's counters for one source ({} when it has none; nothing is added)."""
        per = self.stats.counts.get(label)
        return dict(per[source]) if per is not None and source in per else {}

    def applies(self, label: str, source: str) -> bool:
        """Did stage ``label`` run on ``source`` (from the stages table, else its counters)?"""
        row = self.stats.row(label)
        if row is not None and row.get("sources") is not None:
            return source in row["sources"]
        return source in self.stats.counts.get(label, {})

    @property
    def sources(self) -> list[str]:
        """Input names, in the pipeline file's order when known."""
        seen = {s for per in self.stats.counts.values() for s in per if s != "*"}
        inputs = (self.pipeline() or {}).get("inputs")
        declared = [str(k) for k in inputs] if isinstance(inputs, dict) else []
        return [s for s in declared if s in seen] + sorted(seen - set(declared))

    def pipeline(self) -> dict[str, Any] | None:
        """The pipeline file as run (manifest first; logs/last_run.json for runs without shards)."""
        p = (self.manifest or {}).get("pipeline") or (self.last_run or {}).get("pipeline")
        return p if isinstance(p, dict) else None

    @property
    def runs(self) -> int:
        """How many runs built this output (more than one in append mode)."""
        return len((self.manifest or {}).get("runs") or []) or 1


def load_run(out: str | Path, *, require_stats: bool = False) -> RunData:
    """Read an output folder; a clear error when it is not one.

    A folder with shards but no stats.json (``tokenize-sft``) gives a run with empty stats
    (its report shows the shards); so does a damaged stats.json beside a good manifest,
    noted in ``problems``, unless ``require_stats`` (``dataforge stats``)."""
    out = Path(out)
    if not out.is_dir():
        raise ReportError(f"{out}: no such output directory")
    problems: dict[str, str] = {}
    manifest = _optional(out, MANIFEST, load_manifest, problems)
    last_run = _optional(out, LAST_RUN, load_last_run, problems)
    stats_file = out / STATS
    try:
        if not stats_file.exists():
            raise ReportError(f"{stats_file}: missing; is {out} the output of a finished `dataforge run`?")
        stats = _stats(stats_file)
    except ReportError as exc:
        if require_stats or manifest is None:
            also = "".join(f"; also {p}" for p in problems.values())
            raise ReportError(f"{exc}{also}") from exc
        if stats_file.exists():
            problems[STATS] = str(exc)
        stats = Stats()
    return RunData(out=out, stats=stats, manifest=manifest, last_run=last_run, problems=problems)


def _stats(path: Path) -> Stats:
    try:
        data = load_stats_json(path)
    except OSError as exc:
        raise ReportError(f"{path}: unreadable ({exc.strerror or exc})") from exc
    try:
        return Stats.from_json(data)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: not a dataforge stats file ({exc})") from exc


def _optional(out: Path, name: str, loader: Callable[[Path], dict[str, Any]],
              problems: dict[str, str]) -> dict[str, Any] | None:
    """A side file, or None when it is missing or damaged (damage noted in ``problems``)."""
    path = out / name
    if not path.exists():
        return None
    try:
        return loader(path)
    except ReportError as exc:
        problems[name] = str(exc)
    except OSError as exc:
        problems[name] = f"{path}: unreadable ({exc.strerror or exc})"
    return None


# ---- the funnel ---------------------------------------------------------------------
def stream_stages(run: RunData) -> tuple[list[tuple[str, set[str]]], str | None]:
    """The stages documents stream through, in order, each with the sources it saw
    (reader first; not pack, not tokenize), and the tokenize stage's label (None: none)."""
    out = []
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
        if applies:
            out.append((label, applies))
    return out, tokenize_label


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
    streaming, tokenize_label = stream_stages(run)
    for label, applies in streaming:
        per = run.stats.counts[label]
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
    out.append(FunnelRow(tokenize_label, {s: int(run.keys(tokenize_label, s).get("docs_in", 0)) for s in sources},
                         dict(size), {s: int(run.keys(tokenize_label, s).get("tokens", 0)) for s in sources}, True,
                         {s for s in sources if s in tok}))
    pack = run.stats.counts.get(run.pack_label)
    if pack:
        def both(s: str, key: str) -> int:
            keys = run.keys(run.pack_label, s)
            return int(keys.get(f"train_{key}", 0) + keys.get(f"validation_{key}", 0))
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
        per = counts.get(lab)
        if per is None:
            continue
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


# ---- mixture ------------------------------------------------------------------------
def mixture(run: RunData) -> list[dict[str, Any]]:
    """Per source: configured weight, target and realised share and tokens, epochs."""
    m = run.manifest or {}
    sources = m.get("sources") or {}
    inputs = (run.pipeline() or {}).get("inputs")
    inputs = inputs if isinstance(inputs, dict) else {}
    realised_total = sum(v.get("tokens_realised", 0) for v in sources.values()) or 1
    rows = []
    for name in run.sources or list(sources):  # no counters (a damaged stats.json): the manifest's order
        v = sources.get(name)
        if v is None:
            continue
        spec = inputs.get(name)
        weight = spec.get("weight") if isinstance(spec, dict) else None
        rows.append({"source": name, "weight": weight if isinstance(weight, (int, float)) else None,
                     "target_share": v.get("share", 0.0),
                     "realised_share": v.get("tokens_realised", 0) / realised_total,
                     **v})
    return rows
