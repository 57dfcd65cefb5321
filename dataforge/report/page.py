"""The report: one self-contained HTML file (inline CSS and SVG, no script, no network).

Crawled text is hostile. Every value from the data or the pipeline file is passed
through ``esc`` where it is put into the markup, and the page carries a Content Security
Policy that forbids scripts, frames, forms and remote loads outright, so a document that
slipped past escaping still could not run or fetch anything (defence in depth; tests
check both layers in a real browser).

A damaged file costs only the sections that need it: each section is built on its own,
a failure is shown as a warning in its place, and a file that could not be read at all
(a truncated manifest.json, a stats.json of the wrong shape) is named at the top and in
every section that needed it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .. import __version__
from ..ablate.page import ablation_section
from ..io import atomic_write
from . import data as D
from . import sections as S
from .html import SHOW_CHARS, compact, doc, needs, pct, plural, table, value_text, warn
from .samples import keepers, kept_samples, rejected_samples
from .shards import decode_rows, load_tokenizer, locate, sample_rows
from .svg import esc, fmt_int

__all__ = ["CSP", "build_report", "write_report", "compact"]
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"
log = logging.getLogger(__name__)

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:18px 28px 60px;background:#fff;box-shadow:0 0 8px #0001}
h1{font-size:24px;margin:8px 0 2px}h2{font-size:19px;margin:34px 0 8px;border-bottom:2px solid #e3e6ea;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}.muted{color:#5f6b7a}.small{font-size:12px}
nav{font-size:13px;margin:8px 0 4px}nav a{margin-right:12px;color:#0b5cad;text-decoration:none}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}.card{border:1px solid #e3e6ea;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#5f6b7a}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}th,td{padding:3px 9px;border-bottom:1px solid #eceef1;text-align:right;vertical-align:top}
th{background:#f2f4f7;font-weight:600}td.l,th.l{text-align:left}td small{color:#5f6b7a}
svg.chart{display:block;margin:6px 0 4px;max-width:100%;height:auto}svg text{font-size:11px;fill:#333}svg .value{fill:#555}
svg .grid{stroke:#e6e8eb;stroke-width:1}
details{border:1px solid #e3e6ea;border-radius:5px;margin:6px 0;padding:4px 10px}summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f8fa;padding:8px;border-radius:4px;font-size:12.5px;max-height:420px;overflow:auto}
.warn{background:#fff6e0;border:1px solid #f0d58c;padding:6px 10px;border-radius:5px}
.tag{display:inline-block;background:#eef2f7;border-radius:3px;padding:0 5px;margin-right:4px;font-size:12px}
.seg-prompt{color:#5f6b7a}.lost{color:#b00020;font-weight:600}
.warn ul{margin:4px 0 4px 18px;padding:0}.seg-head{font-size:11px;color:#0b5cad;display:block;margin-top:6px}
"""


#: (id, title, builder, files the section cannot do without)
SECTIONS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("funnel", "Funnel", "funnel", (D.STATS,)),
    ("drops", "Drop reasons", "drops", (D.STATS,)),
    ("distributions", "Distributions", "distributions", (D.STATS,)),
    ("languages", "Languages", "languages", (D.STATS,)),
    ("contamination", "Contamination", "contamination", ()),
    ("dedup", "Duplicates", "dedup", ()),
    ("mixture", "Mixture", "mixture", (D.MANIFEST,)),
    ("kept", "Kept documents", "kept", ()),
    ("rejected", "Rejected documents", "rejected", ()),
    ("shards", "Shards", "shards", (D.MANIFEST,)),
    ("config", "Configuration", "config", ()),
]


def build_report(out: str, *, kept_per_source: int = 3, rejected_per_reason: int = 2, decoded_rows: int = 2,
                 seed: int = 0) -> str:
    """The whole page as a string (``dataforge report`` writes it atomically)."""
    run = D.load_run(out)
    rows = _guarded(D.funnel, run, fallback=[])
    args: dict[str, tuple[Any, ...]] = {"funnel": (rows,), "kept": (kept_per_source, seed),
                                        "rejected": (rejected_per_reason,), "shards": (decoded_rows, seed)}
    builders: dict[str, Callable[..., str]] = {
        "funnel": S.funnel_section, "drops": S.drops_section, "distributions": S.distributions_section,
        "languages": S.languages_section, "contamination": S.contamination_section, "dedup": S.dedup_section,
        "mixture": S.mixture_section, "kept": kept_section, "rejected": rejected_section,
        "shards": shards_section, "config": config_section}
    sections = []
    for sid, title, key, files in SECTIONS:
        lost = [f for f in files if f in run.problems]
        html = "".join(needs(f, run.problems[f]) for f in lost) if lost else \
            _guarded(builders[key], run, *args.get(key, ()))
        sections.append((sid, title, html))
    # OUTPUT/ablate, when an ablation was run into it
    sections.append(("ablation", "Ablation", ablation_section(run.out)))
    name = (run.manifest or {}).get("name") or (run.pipeline() or {}).get("name") or run.out.name
    nav = "".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title, body in sections if body)
    body = "".join(f'<section id="{sid}"><h2>{esc(title)}</h2>{html}</section>'
                   for sid, title, html in sections if html)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>dataforge report: {esc(name)}</title><style>{STYLE}</style></head><body><main>"
        f'<h1>dataforge report: {esc(name)}</h1>'
        f'<div class="muted small">{esc(str(run.out))} &middot; report by dataforge {esc(__version__)}</div>'
        f"<nav>{nav}</nav>{_problems(run)}{_guarded(_cards, run, rows)}{_guarded(S.losses_banner, run)}"
        f"{body}</main></body></html>\n"
    )


def write_report(output_dir: str | Path, target: str | Path | None = None, **options: Any) -> tuple[Path, int]:
    """Build the report and write it atomically (default OUTPUT_DIR/report.html); returns (path, bytes)."""
    page = build_report(str(output_dir), **options).encode("utf-8")
    path = Path(target) if target else Path(output_dir) / "report.html"
    with atomic_write(path, "wb") as fh:
        fh.write(page)
    return path, len(page)


def _guarded(fn: Callable[..., Any], run: D.RunData, *args: Any, fallback: Any = None) -> Any:
    """One section. A damaged or missing file costs that section (shown as a warning in its
    place), never the whole report: the report is most wanted when something went wrong."""
    try:
        return fn(run, *args)
    except Exception as exc:  # noqa: BLE001 - any failure of one section, named on the page
        log.warning("report: %s failed: %s: %s", fn.__name__.strip("_"), type(exc).__name__, exc)
        if fallback is not None:
            return fallback
        return warn(f"This part could not be built: {type(exc).__name__}: {exc}")


def _problems(run: D.RunData) -> str:
    """Files that could not be read, named at the top (each section that needed one says so)."""
    if not run.problems:
        return ""
    for msg in run.problems.values():
        log.warning("report: %s", msg)
    items = "".join(f"<li>{esc(msg)}</li>" for msg in run.problems.values())
    return (f'<div class="warn"><b>Damaged files</b>: the sections that need them are missing below.'
            f"<ul>{items}</ul></div>")


def _cards(run: D.RunData, rows: list[D.FunnelRow]) -> str:
    m = run.manifest or {}
    cards = []
    streaming = [r for r in rows if not r.exact_tokens]
    if streaming:
        read, kept = streaming[0], streaming[-1]
        cards.append((fmt_int(read.total_docs), "documents read" + (" (latest run)" if run.runs > 1 else "")))
        cards.append((f"{fmt_int(kept.total_docs)} ({pct(kept.total_docs, read.total_docs)})", "documents kept"))
    if m.get("tokens"):
        total = sum(int(v) for v in m["tokens"].values())
        split = ", ".join(f"{k} {compact(v)}" for k, v in m["tokens"].items() if v)
        cards.append((compact(total), f"tokens in shards ({split})"))
    pack = run.stats.totals(run.pack_label)
    lost = {"truncated": pack.get("tokens_truncated", 0),
            "dropped tail": sum(v for k, v in pack.items() if k.endswith("_tokens_dropped_tail"))}
    if any(lost.values()):
        cards.append((compact(sum(lost.values())), "tokens not in shards (" + ", ".join(
            f"{k} {compact(v)}" for k, v in lost.items() if v) + ")"))
    if m.get("shards"):
        cards.append((str(len(m["shards"])), f"shards ({m.get('dtype')}, seq_len {m.get('seq_len')})"))
    if run.runs > 1:
        cards.append((str(run.runs), "runs (append)"))
    if run.last_run and run.last_run.get("seconds") is not None:
        cards.append((f"{run.last_run['seconds']:.1f} s", f"last run: {run.last_run.get('status', '?')}"))
    if run.sources:
        cards.append((str(len(run.sources)), "sources"))
    html = "".join(f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in cards)
    warnings = (m.get("warnings") or []) + [w for w in (run.last_run or {}).get("warnings", []) if w not in
                                            (m.get("warnings") or [])]
    return f'<div class="cards">{html}</div>' + "".join(warn(str(w)) for w in warnings)



def kept_section(run: D.RunData, per_source: int, seed: int) -> str:
    samples = kept_samples(run, per_source, seed)
    if not samples:
        return ('<p class="muted">No documents/ folder: add a <code>write</code> stage to the pipeline to keep the '
                "surviving documents (the Shards section shows decoded token rows).</p>") if per_source else ""
    parts = [f'<p class="muted small">A random sample (seed {esc(seed)}) of up to {esc(per_source)} kept documents '
             "per source, from documents/.</p>"]
    for source, recs in samples.items():
        parts.append(f"<h3>{esc(source)}</h3>" + "".join(doc(r) for r in recs))
    return "".join(parts)


def rejected_section(run: D.RunData, per_reason: int) -> str:
    samples = rejected_samples(run, per_reason)
    if not samples:
        return ""
    parts = ['<p class="muted small">The first documents each stage dropped for each reason, per task '
             "(<code>sample_rejected</code>, 3 by default: raise it on a stage to keep more), from rejected/, "
             "with the measured value that failed the rule where the stage records one "
             "(<code>dataforge why OUTPUT ID</code> traces one document).</p>"]
    wanted = {str(r.get("id")) for reasons in samples.values() for recs in reasons.values() for r in recs
              if r.get("reason") == "duplicate"}
    keeper = keepers(run, wanted) if wanted else {}
    for stage, reasons in samples.items():
        parts.append(f"<h3>{esc(run.stats.folder_label(stage) or stage)}</h3>")
        for reason, recs in reasons.items():
            for r in recs:
                tag = f'<span class="tag">{esc(reason)}</span>'
                if "value" in r:
                    tag += f'<span class="tag value">value: {esc(value_text(r["value"]))}</span>'
                if str(r.get("id")) in keeper:
                    tag += f'<span class="tag">duplicate of {esc(keeper[str(r.get("id"))])}</span>'
                parts.append(doc(r, extra=tag))
    return "".join(parts)


def shards_section(run: D.RunData, n: int, seed: int) -> str:
    m = run.manifest
    if not m or not m.get("shards"):
        return ""
    grid = table(["shard", "split", "rows", "tokens", "sha256"],
                   [[s.get("path", ""), s.get("split", ""), fmt_int(s.get("rows", 0)), fmt_int(s.get("tokens", 0)),
                     str(s.get("sha256", ""))[:16]]
                    for s in m["shards"]])
    splits = [e["split"] for e in m["shards"]]
    split = "train" if "train" in splits else splits[0]
    shards = locate(run.out, split=split)
    tokenizer = load_tokenizer(shards)
    decoded = []
    for r in decode_rows(tokenizer, sample_rows(shards, n, seed)):
        segs = "".join(f'<span class="seg-head">{esc(s.kind)} · {esc(s.tokens)} tokens</span>'
                       f'<span class="seg-{esc(s.kind)}">{esc(s.text[:SHOW_CHARS])}</span>' for s in r.segments)
        decoded.append(f"<details><summary>{esc(r.shard)} row {esc(r.row)}: {esc(r.length)} tokens, "
                       f"{esc(plural(len(r.segments), 'piece'))}</summary><pre>{segs}</pre></details>")
    what = ("<h3>What the model sees</h3>"
            f'<p class="muted small">{esc(len(decoded))} random {esc(split)} rows decoded with the run\'s tokenizer '
            "(<code>dataforge inspect</code> shows more).</p>" + "".join(decoded)) if decoded else ""
    return grid + what


def config_section(run: D.RunData) -> str:
    m = run.manifest or {}
    pipeline = run.pipeline() or (run.last_run or {}).get("pipeline")
    parts = []
    facts = [["config hash", m.get("config_hash") or (run.last_run or {}).get("config_hash", "")],
             ["seed", m.get("seed", "")], ["tokenizer sha256", (m.get("tokenizer") or {}).get("sha256", "")],
             ["last run", f"{(run.last_run or {}).get('status', '')} {(run.last_run or {}).get('finished', '')}"]]
    parts.append(table(["run", ""], [f for f in facts if str(f[1]).strip()], left=2))
    if pipeline:
        parts.append("<h3>Pipeline file</h3><pre>"
                     + esc(yaml.safe_dump(pipeline, sort_keys=False, allow_unicode=True, width=100)) + "</pre>")
    if m.get("versions"):
        parts.append("<h3>Versions</h3>" + table(["package", "version"], sorted(m["versions"].items()), left=2))
    return "".join(parts)

