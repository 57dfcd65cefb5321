"""Where one document went: which stage kept or dropped it, and with what measured value.

A run does not log every document's fate (that would cost a line per document per
stage); it keeps evidence, and ``trace`` puts it together, saying which is which:

* the id itself: a document without an id field of its own is ``source/file:line``;
* ``rejected/<stage>/<task>.jsonl``: the first ``sample_rejected`` (default 3) documents
  each stage dropped per reason and task, with the reason and the measured value;
* ``dedup/*clusters.parquet``: every duplicate cluster (the kept id and the removed ones);
* ``decontamination/<stage>/<task>.jsonl``: every contaminated document, per benchmark;
* ``documents/`` (a ``write`` stage): every document that reached it;
* ``logs/run-*.log``: ``file:line: skipped: reason`` for records the reader could not read;
* stats.json: how many documents of the source each stage dropped, per reason; where
  every drop of a reason was sampled, an unsampled document was not dropped for it.

What is not recorded is said as such ("not sampled: dropped by one of ..."), with how to
record more (``sample_rejected``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import registry
from ..stage import safe_name
from ..stats import DROPPED, SKIPPED
from ..tokenize.hashing import unit_hash
from . import find
from .data import READ, RunData, load_run, stream_stages
from .html import value_text
from .samples import write_stages

_FALLBACK = re.compile(r"^(?P<source>[^/]+)/(?P<path>.+):(?P<where>\d+)$")
_UNIT = {"jsonl": "line", "text": "line", "parquet": "row", "instructions": "record"}


@dataclass
class Finding:
    what: str  # read | skipped | dropped | duplicate | keeper | contaminated | redacted | written | split
    stage: str | None  # the stats label
    detail: dict[str, Any]
    evidence: str  # the file it comes from, relative to the output


@dataclass
class Candidate:
    """A stage that dropped documents of the source and did not sample all of them."""

    stage: str
    reasons: dict[str, int]  # reason -> documents of this source dropped
    all_sampled: list[str]  # reasons whose every drop is in rejected/ (so: not this document)


@dataclass
class Trace:
    id: str
    verdict: str  # dropped | kept | unknown | not_found
    summary: str
    source: str | None = None
    findings: list[Finding] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def trace(out: str | Path, doc_id: str) -> Trace:
    """Everything the run recorded about ``doc_id`` (see the module docstring)."""
    run = load_run(out, require_stats=True)
    return trace_run(run, doc_id)


def ids_by_url(out: str | Path, url: str) -> list[str]:
    run = load_run(out, require_stats=True)
    return find.by_url(run, url, [p for _, p in write_stages(run)])


def trace_run(run: RunData, doc_id: str) -> Trace:
    t = Trace(id=doc_id, verdict="not_found", summary="")
    damaged = t.damaged
    damaged.extend(run.problems.values())  # a damaged manifest costs the input files' names, not the trace
    m = _FALLBACK.match(doc_id)
    prefix = None
    if m and m["source"] in run.sources:
        t.source = m["source"]
        prefix = safe_name(f"{t.source}--{Path(m['path']).name}")[:80] + "-"
        unit = _UNIT.get(_reader(run, t.source), "record")
        records = sum(v for k, v in run.keys(READ, t.source).items() if k == "docs_out" or k.startswith(SKIPPED))
        if int(m["where"]) > records:
            t.summary = (f"no such record: the run read {int(records):,} records of source {t.source!r} in all, "
                         f"so {m['path']} has no {unit} {int(m['where']):,}")
            return t
        t.findings.append(Finding("read", READ, {"file": m["path"], unit: int(m["where"])}, "the id"))
        for reason, log in find.skipped_in_logs(run, m["path"], int(m["where"])):
            t.findings.append(Finding("skipped", READ, {"reason": reason}, log))
    order = {lab: i for i, lab in enumerate(run.labels)}
    hits, sampled = find.rejected(run, doc_id, prefix=prefix, damaged=damaged,
                                  source_prefix=None if t.source is None else safe_name(t.source) + "--")
    for folder, rec, file in hits:
        t.source = t.source or _str(rec.get("source"))
        detail = {"reason": rec.get("reason"), **({"value": rec["value"]} if "value" in rec else {}),
                  **_meta(rec.get("meta")), "chars": rec.get("chars")}
        t.findings.append(Finding("dropped", run.stats.folder_label(folder) or folder, detail, file))
    for file, role, row in find.clusters(run, doc_id, damaged):
        t.source = t.source or (_str(row.get("keeper_source")) if role == "keeper" else None)
        t.findings.append(Finding("duplicate" if role == "removed" else "keeper", _dedup_label(run, Path(file).name),
                                  row, file))
    decontaminate = _label_of_name(run, "decontaminate")
    for row, file in find.contaminated(run, doc_id, prefix=prefix, damaged=damaged):
        t.source = t.source or _str(row.get("source"))
        what = "redacted" if row.get("action") == "redacted" else "contaminated"
        parts = Path(file).parts  # decontamination/<stage folder>/<task>.jsonl names its stage
        stage = (run.stats.folder_label(parts[1]) if len(parts) == 3 else None) or decontaminate
        t.findings.append(Finding(what, stage,
                                  {k: row.get(k) for k in ("benchmark", "items", "ngrams", "action")}, file))
    writes = write_stages(run)
    for write_label, write_dir in writes:
        for rec, file in find.written(run, write_dir, doc_id, prefix=prefix, damaged=damaged):
            t.source = t.source or _str(rec.get("source"))
            t.findings.append(Finding("written", write_label,
                                      {"folder": find.rel(run, write_dir), **_meta(rec.get("meta"))}, file))
    if not any(f.what == "read" for f in t.findings):
        _read_from_task(run, t)
    t.findings.sort(key=lambda f: -1 if f.what == "read" else order.get(f.stage or "", len(order)))
    _verdict(run, t, writes, sampled, order)
    return t


def _read_from_task(run: RunData, t: Trace) -> None:
    """The input file a found document came from (its side files are named after the task
    that read it), and its line or row when the file is here to search."""
    task = next((find.task_of(f.evidence) for f in t.findings if "/" in f.evidence), None)
    if task is None:
        return
    try:
        path = find.task_inputs(run).get(task)
    except (KeyError, TypeError):
        path = None
    detail: dict[str, Any] = {"file": path or f"(task {task})"}
    if path is not None and t.source is not None:
        inputs = (run.pipeline() or {}).get("inputs")
        spec = inputs.get(t.source) if isinstance(inputs, dict) else None
        spec = spec if isinstance(spec, dict) else {}
        at = find.locate_in_input(path, str(spec.get("reader", "")), spec, t.id)
        if at is not None:
            detail[at[0]] = at[1]
    t.findings.append(Finding("read", READ, detail, "manifest.json inputs" if path else "the task's file name"))


def _verdict(run: RunData, t: Trace, writes: list[tuple[str | None, Path]], sampled: dict[str, find.Sampled],
             order: dict[str, int]) -> None:
    drops = [f for f in t.findings if f.what in ("dropped", "duplicate", "contaminated", "skipped")]
    how = ("rejected/ keeps only the first sample_rejected (default 3) documents per reason and task of each "
           "stage; raise it on a stage in the pipeline file (e.g. `sample_rejected: 100`) to keep more")
    if drops:
        t.verdict, t.summary = "dropped", _drop_text(drops)
        return

    def pos(f: Finding) -> int:  # an id naming its input line says the record existed, not that it was read
        return -1 if f.what == "read" else order.get(f.stage or "", -1)

    kept = [f for f in t.findings if f.what in ("written", "keeper", "redacted", "read")]
    if not kept:
        t.verdict, t.summary = "not_found", (
            f"no record of {t.id!r} in {run.out}: no rejected sample, duplicate cluster, contamination row"
            + (" or written document" if writes else "") + " has this id, and it is not a source/file:line id of "
            "an input of this run (check the id; documents with an id field keep that id)"
            + ("" if writes else "; this pipeline has no write stage, so a kept document leaves no record "
               "(add `- write: {}` to keep them)"))
        t.notes.append(how)
        return
    last = max(kept, key=pos)
    after = pos(last)
    where = "it was read" if last.what == "read" else str(last.stage)
    stages = [lab for lab, _ in stream_stages(run)[0]
              if order.get(lab, -1) > after and (t.source is None or run.applies(lab, t.source))]
    until = next((lab for lab, _ in writes if lab is not None and order.get(lab, -1) > after), None)
    if until is not None:  # a write stage after the last evidence did not write it
        stages = [lab for lab in stages if order.get(lab, -1) < order[until]]
    t.candidates = _candidates(run, t.source, stages, sampled)
    if until is None and not t.candidates:
        t.verdict = "kept"
        t.summary = (f"kept: written by {last.stage} ({last.evidence})" if last.what == "written" else
                     f"kept by {where}; no later stage dropped documents of its source")
        _final_notes(run, t)
        return
    t.notes.append(how)
    if until is None:
        t.verdict = "unknown"
        t.summary = (f"not sampled after {where}: kept, or dropped by {_names(t.candidates)}"
                     + ("" if writes else " (no write stage records what was kept: add `- write: {}` at the end)"))
        _final_notes(run, t)
    elif t.candidates:
        t.verdict = "dropped"
        t.summary = (f"not sampled: dropped after {where} and before {until} (which did not write it), "
                     f"by {_names(t.candidates)}")
    else:
        t.verdict = "unknown"
        t.summary = (f"not written by {until}, yet no stage between {where} and it dropped a document of its "
                     "source that was not sampled: check the id (a blank or missing line is not a document)")


def _drop_text(drops: list[Finding]) -> str:
    first = drops[0]
    d = first.detail
    if first.what == "skipped":
        return f"skipped by the reader: {d.get('reason')} ({first.evidence})"
    if first.what == "duplicate":
        jac = d.get("jaccard")
        return (f"dropped by {first.stage}: duplicate of {d.get('keeper')} (cluster {d.get('cluster_id')}, "
                f"{d.get('size')} documents" + (f", Jaccard {jac:.2f}" if isinstance(jac, float) else "") + ")")
    if first.what == "contaminated":
        return f"dropped by {first.stage}: contaminated by benchmark {d.get('benchmark')} (items {d.get('items')})"
    richer = next((f for f in drops if f.stage == first.stage and f.what in ("duplicate", "contaminated")), None)
    if richer is not None:  # the cluster or the contamination row says more than the sample
        return _drop_text([richer])
    value = f" (value {value_text(d['value'])})" if "value" in d else ""
    return f"dropped by {first.stage}: {d.get('reason')}{value}"


def _candidates(run: RunData, source: str | None, labels: list[str], sampled: dict[str, find.Sampled]) -> list[Candidate]:
    out = []
    for label in labels:
        keys = run.keys(label, source) if source else run.stats.totals(label)
        reasons = {k.split(".", 1)[1]: int(v) for k, v in keys.items() if k.startswith((DROPPED, SKIPPED)) and v}
        if not reasons:
            continue
        got = sampled.get(safe_name(label)) if run.runs == 1 else None  # append mode: rejected/ holds older runs'
        full = sorted(r for r, n in reasons.items() if got is not None and got.per_reason.get(r, 0) >= n)
        if len(full) < len(reasons):
            out.append(Candidate(label, reasons, full))
    return out


def _names(cands: list[Candidate]) -> str:
    """``a (r 3)``, ``a or b``, ``one of a, b, c`` (the reasons are in the candidates)."""
    if len(cands) == 1:
        c = cands[0]
        return f"{c.stage} (" + ", ".join(f"{r} {n:,}" for r, n in c.reasons.items() if r not in c.all_sampled) + ")"
    names = [c.stage for c in cands]
    return " or ".join(names) if len(names) == 2 else "one of " + ", ".join(names)


def _final_notes(run: RunData, t: Trace) -> None:
    """What the mix and tokenize stages did with a kept document's source."""
    m = run.manifest or {}
    src = (m.get("sources") or {}).get(t.source or "")
    if src:
        t.notes.append(f"mix: the source {t.source!r} went into the shards at {src.get('epochs', 0):.2f} epochs "
                       "(whole epochs repeat every document; the fraction is a seeded hash sample); which documents "
                       "it took is not recorded per document")
    frac, seed = m.get("validation_fraction"), m.get("seed")
    if isinstance(frac, float) and frac > 0 and isinstance(seed, int):
        split = "validation" if unit_hash(seed, "validation", t.id) < frac else "train"
        t.findings.append(Finding("split", run.stats.label_of("tokenize"),
                                  {"split": split, "validation_fraction": frac}, "manifest.json (seed, hash of the id)"))


def _reader(run: RunData, source: str) -> str:
    inputs = (run.pipeline() or {}).get("inputs")
    spec = inputs.get(source) if isinstance(inputs, dict) else None
    return str(spec.get("reader")) if isinstance(spec, dict) else ""


def _label_of_name(run: RunData, name: str) -> str | None:
    return next((str(r["label"]) for r in run.stats.stages if r.get("name") == name), None)


def _dedup_label(run: RunData, file: str) -> str | None:
    """The dedup stage that writes clusters file ``file`` (its class's ``clusters_file``)."""
    for row in run.stats.stages:
        if row.get("kind") != "barrier":
            continue
        try:
            cls = registry.resolve(registry.STAGES, row.get("name", ""))
        except (KeyError, ImportError, AttributeError):
            continue
        if Path(str(getattr(cls, "clusters_file", ""))).name == file:
            return str(row["label"])
    return None


def _meta(meta: Any) -> dict[str, Any]:
    keys = ("url", "lang", "lang_score", "quality", "perplexity")
    return {k: meta[k] for k in keys if k in meta} if isinstance(meta, dict) else {}


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def finding_text(f: Finding) -> str:
    """One finding in words (for the terminal)."""
    d = f.detail
    tags = " · ".join(f"{k} {value_text(d[k])}" for k in ("url", "lang", "lang_score", "quality", "perplexity") if k in d)
    tags = f" · {tags}" if tags else ""
    if f.what == "read":
        where = "".join(f", {k} {v:,}" for k, v in d.items() if k != "file" and isinstance(v, int))
        return f"{d.get('file')}{where}"
    if f.what == "skipped":
        return f"skipped by the reader: {d.get('reason')}"
    if f.what == "dropped":
        value = f" · value {value_text(d['value'])}" if "value" in d else ""
        return f"dropped: {d.get('reason')}{value}{tags}"
    if f.what == "duplicate":
        jac = d.get("jaccard")
        return (f"dropped as a duplicate of {d.get('keeper')} (cluster {d.get('cluster_id')} of {d.get('size')}"
                + (f", Jaccard {jac:.2f}" if isinstance(jac, float) else "") + ")")
    if f.what == "keeper":
        return f"kept as the copy of cluster {d.get('cluster_id')} ({d.get('removed_count')} duplicates removed)"
    if f.what in ("contaminated", "redacted"):
        items = d.get("items") or []
        return (f"{'redacted' if f.what == 'redacted' else 'dropped'}: matches benchmark {d.get('benchmark')} "
                f"({d.get('ngrams')} n-grams; items {value_text(items)})")
    if f.what == "written":
        return f"written to {d.get('folder')}/{tags}"
    if f.what == "split":
        return f"if it is in the shards, it is in the {d.get('split')} split (validation_fraction {d.get('validation_fraction')})"
    return f"{f.what}: {d}"

