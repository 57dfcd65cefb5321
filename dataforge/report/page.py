"""The report: one self-contained HTML file (inline CSS and SVG, no script, no network).

Crawled text is hostile. Every value from the data or the pipeline file is passed
through ``esc`` where it is put into the markup, and the page carries a Content Security
Policy that forbids scripts, frames, forms and remote loads outright, so a document that
slipped past escaping still could not run or fetch anything (defence in depth; tests
check both layers in a real browser).
"""

from __future__ import annotations

import logging
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from .. import __version__
from ..io import atomic_write
from ..stats import LOGIT_BINS, UNIT_BINS, logit_bin_edge
from . import data as D
from .shards import decode_rows, load_tokenizer, locate, sample_rows
from .svg import DROPPED, KEPT, esc, fmt_int, grouped_hbars, histogram, stacked_hbars

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"
SHOW_CHARS = 2_500
log = logging.getLogger(__name__)  # characters of a sample document shown (the rest is summarised)

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
.seg-prompt{color:#5f6b7a}.seg-head{font-size:11px;color:#0b5cad;display:block;margin-top:6px}
"""


def build_report(out: str, *, kept_per_source: int = 3, rejected_per_reason: int = 2, decoded_rows: int = 2,
                 seed: int = 0) -> str:
    """The whole page as a string (``dataforge report`` writes it atomically)."""
    run = D.load_run(out)
    rows = _guarded(D.funnel, run, fallback=[])
    sections = [(sid, title, _guarded(fn, run, *args)) for sid, title, fn, args in (
        ("funnel", "Funnel", _funnel, (rows,)),
        ("drops", "Drop reasons", _drops, ()),
        ("distributions", "Distributions", _distributions, ()),
        ("languages", "Languages", _languages, ()),
        ("dedup", "Duplicates", _dedup, ()),
        ("mixture", "Mixture", _mixture, ()),
        ("kept", "Kept documents", _kept, (kept_per_source, seed)),
        ("rejected", "Rejected documents", _rejected, (rejected_per_reason,)),
        ("shards", "Shards", _shards, (decoded_rows, seed)),
        ("config", "Configuration", _config, ()),
    )]
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
        f"<nav>{nav}</nav>{_guarded(_cards, run, rows)}{body}</main></body></html>\n"
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
        return f'<p class="warn">This part could not be built: {esc(type(exc).__name__)}: {esc(exc)}</p>'


# ---- pieces -------------------------------------------------------------------------
def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """A table; the first ``left`` columns are left-aligned text. Cells are escaped unless
    they are ``Raw`` (markup built here from escaped parts)."""
    def cell(i: int, v: Any, tag: str) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{v.html if isinstance(v, Raw) else esc(v)}</{tag}>"
    h = "".join(cell(i, v, "th") for i, v in enumerate(head))
    b = "".join("<tr>" + "".join(cell(i, v, "td") for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


class Raw:
    """Markup that was assembled from escaped parts (so ``_table`` does not escape it twice)."""

    def __init__(self, html: str) -> None:
        self.html = html


def compact(n: float) -> str:
    n = float(n)
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}".replace(".0" + unit, unit)
    return f"{int(n):,}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else ""


def _cards(run: D.RunData, rows: list[D.FunnelRow]) -> str:
    m = run.manifest or {}
    cards = []
    streaming = [r for r in rows if not r.exact_tokens]
    if streaming:
        read, kept = streaming[0], streaming[-1]
        cards.append((fmt_int(read.total_docs), "documents read" + (" (latest run)" if run.runs > 1 else "")))
        cards.append((f"{fmt_int(kept.total_docs)} ({_pct(kept.total_docs, read.total_docs)})", "documents kept"))
    if m.get("tokens"):
        total = sum(int(v) for v in m["tokens"].values())
        split = ", ".join(f"{k} {compact(v)}" for k, v in m["tokens"].items() if v)
        cards.append((compact(total), f"tokens in shards ({split})"))
    pack = run.stats.totals(D.PACK)
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
    warn = "".join(f'<p class="warn">{esc(w)}</p>' for w in warnings)
    return f'<div class="cards">{html}</div>{warn}'


def _funnel(run: D.RunData, rows: list[D.FunnelRow]) -> str:
    if not rows:
        return ""
    sources = run.sources
    first = rows[0].total_docs
    has_tokens = all(r.tokens is not None for r in rows)

    def tok(r: D.FunnelRow, v: int | None) -> str:
        return "" if v is None else ("" if r.exact_tokens else "≈") + compact(v)

    chart = stacked_hbars("documents after each stage, by source",
                          [(r.label, [r.docs[s] for s in sources]) for r in rows], sources)
    token_chart = "<h3>Tokens</h3>" + stacked_hbars(
        "tokens after each stage, by source (estimated before tokenize)",
        [(r.label + ("" if r.exact_tokens else " ≈"), [(r.tokens or {})[s] for s in sources]) for r in rows],
        sources, fmt=compact) if has_tokens else ""
    table_rows = []
    for r in rows:
        cells: list[Any] = [r.label]
        for s in sources:
            mark = "" if s in r.applies else ' title="stage not applied to this source"'
            small = f"<br><small>{esc(tok(r, r.tokens[s]))} tok</small>" if r.tokens is not None else ""
            cells.append(Raw(f"<span{mark}>{esc(fmt_int(r.docs[s]))}</span>{small}"))
        cells += [fmt_int(r.total_docs), _pct(r.total_docs, first)] + ([tok(r, r.total_tokens)] if has_tokens else [])
        table_rows.append(cells)
    note = ('<p class="muted small">Documents remaining after each stage, per source (a stage limited by '
            "<code>sources:</code> passes the others through). "
            + ("Tokens are exact from the tokenize stage on; before it (≈) they are each source's bytes times its "
               "measured tokens per byte. The last row is what the mixture put into the shards, repeats included."
               if has_tokens else "The pipeline has no tokenize stage, so there are no token counts.")
            + (f" These figures are the latest of the {run.runs} runs that built this output (append mode)."
               if run.runs > 1 else "") + "</p>")
    head = ["stage", *sources, "docs", "of read"] + (["tokens"] if has_tokens else [])
    return f"<h3>Documents</h3>{chart}{token_chart}" + _table(head, table_rows) + note


def _drops(run: D.RunData) -> str:
    parts = []
    for label, docs_in, reasons in D.drop_reasons(run):
        srcs = sorted({s for c in reasons.values() for s in c}, key=lambda s: (s == "*", s))
        total = sum(sum(c.values()) for c in reasons.values())
        rows = [[k.split(".", 1)[1] + (" (skipped)" if k.startswith("skipped.") else ""), fmt_int(sum(c.values())),
                 _pct(sum(c.values()), docs_in), *[fmt_int(c.get(s, 0)) if c.get(s) else "" for s in srcs]]
                for k, c in reasons.items()]
        parts.append(f"<h3>{esc(label)}: {esc(fmt_int(total))} of {esc(fmt_int(docs_in))} documents "
                     f"({esc(_pct(total, docs_in))})</h3>"
                     + _table(["reason", "documents", "of stage input", *srcs], rows))
    return "".join(parts)


def _distributions(run: D.RunData) -> str:
    parts = []
    read, kept, kept_label = D.length_histograms(run)
    if read or kept:
        lo = min([*read, *kept])
        hi = max([*read, *kept])
        bins = list(range(lo, hi + 1))
        series = [("read", [read.get(b, 0) for b in bins], "#999999")]
        if kept:
            series.append((f"kept ({kept_label})", [kept.get(b, 0) for b in bins], KEPT))
        parts.append("<h3>Document length</h3>" + histogram(
            "document length in bytes", [D.size_label(b) for b in bins], series,
            x_title="UTF-8 bytes per document", log_hint=" (log scale: each bin is half an octave)"))
    unit = [f"{b / UNIT_BINS:.2f}" for b in range(UNIT_BINS)]
    logit = [_prob_label(logit_bin_edge(b)) for b in range(LOGIT_BINS)]
    for name, title, what, labels in (
            ("lang_score", "Language score", "fastText lid.176 score of the best language", unit),
            ("quality_logit", "Quality score",
             "quality classifier probability (meta.quality), bins of log-odds", logit)):
        k, d = D.histogram(run, f"{name}.kept"), D.histogram(run, f"{name}.dropped")
        if not (k or d):
            continue
        bins = range(len(labels))
        parts.append(f"<h3>{esc(title)}</h3>" + histogram(
            what, labels,
            [("kept", [k.get(b, 0) for b in bins], KEPT), ("dropped", [d.get(b, 0) for b in bins], DROPPED)],
            x_title=what, log_y=True) + f'<p class="muted small">{esc(fmt_int(sum(k.values())))} kept, '
            f"{esc(fmt_int(sum(d.values())))} dropped by this stage.</p>")
    return "".join(parts)


def _prob_label(p: float) -> str:
    """A probability as a short axis label: 6e-06 ... 0.12, 0.5, 0.88 ... 1-6e-06."""
    if p < 0.01:
        return f"{p:.0e}"
    if p > 0.99:
        return f"1-{1 - p:.0e}"
    return f"{p:.2f}"


def _languages(run: D.RunData) -> str:
    langs = D.languages(run)
    if not langs:
        return ""
    top = langs.most_common(15)
    rest = sum(langs.values()) - sum(v for _, v in top)
    rows = [(lang, [v]) for lang, v in top] + ([("other", [rest])] if rest else [])
    return (stacked_hbars("documents by detected language", rows, ["documents"], width=700)
            + f'<p class="muted small">Best lid.176 label of every document the langid stage saw '
            f"({esc(fmt_int(sum(langs.values())))} documents, {esc(len(langs))} languages), before its threshold.</p>")


def _dedup(run: D.RunData) -> str:
    parts = []
    for c in D.clusters(run):
        sizes = sorted(c.sizes.items())
        parts.append(f"<h3>{esc(c.file)}: {esc(fmt_int(sum(c.sizes.values())))} clusters, "
                     f"{esc(fmt_int(c.removed))} documents removed</h3>")
        if sizes:
            parts.append(stacked_hbars("clusters by size", [(f"size {s}", [n]) for s, n in sizes], ["clusters"],
                                       width=700))
        rows = []
        for r in c.largest:
            removed = list(r.get("removed") or [])
            jac = [x for x in (r.get("jaccard") or []) if x is not None]
            rows.append([str(r.get("keeper")), str(r.get("keeper_source", "")),
                         ", ".join(map(str, removed[:4])) + (f" … (+{len(removed) - 4})" if len(removed) > 4 else ""),
                         r.get("size"), f"{min(jac):.2f}" if jac else ""])
        if rows:
            parts.append("<h3>Largest clusters</h3>"
                         + _table(["kept document", "source", "removed", "size", "min Jaccard"], rows, left=3))
    if not parts:
        removed = sum(int(run.stats.totals(lab).get("dropped.duplicate", 0)) for lab in run.labels)
        if removed:
            parts.append(f"<p>{esc(fmt_int(removed))} duplicates removed (no clusters file in this output).</p>")
    return "".join(parts)


def _mixture(run: D.RunData) -> str:
    rows = D.mixture(run)
    if not rows:
        return ""
    chart = grouped_hbars("target vs realised share of tokens",
                          [(r["source"], [r["target_share"], r["realised_share"]]) for r in rows],
                          ["target", "realised"], ["#999999", KEPT], fmt=lambda v: f"{100 * v:.1f}%")
    table = _table(["source", "weight", "tokens available", "target tokens", "realised tokens", "target share",
                    "realised share", "epochs", "repeats"],
                   [[r["source"], "" if r["weight"] is None else f"{r['weight']:g}",
                     fmt_int(r.get("tokens_available", 0)), fmt_int(r.get("tokens_target", 0)),
                     fmt_int(r.get("tokens_realised", 0)), f"{100 * r['target_share']:.1f}%",
                     f"{100 * r['realised_share']:.1f}%", f"{r.get('epochs', 0):.2f}",
                     _repeats(run, r["source"])] for r in rows])
    return chart + table


def _repeats(run: D.RunData, source: str) -> str:
    v = run.stats.counts.get(D.PACK, {}).get(source, {}).get("repeats")
    return "" if v is None else fmt_int(v)


def _doc(rec: dict[str, Any], extra: str = "") -> str:
    text = str(rec.get("text", ""))
    meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
    tags = [f"{k} {v}" for k, v in meta.items() if k in ("lang", "lang_score", "quality", "url")]
    chars = int(rec.get("chars") or len(text))
    shown = text[:SHOW_CHARS]
    more = f"\n\n[… {chars - len(shown):,} more characters]" if chars > len(shown) else ""
    return (f'<details><summary>{extra}<span class="tag">{esc(rec.get("source", ""))}</span>{esc(rec.get("id", ""))} '
            f'<span class="muted small">{esc(fmt_int(chars))} chars'
            f'{"".join(" · " + esc(t) for t in tags)}</span></summary><pre>{esc(shown)}{esc(more)}</pre></details>')


def _kept(run: D.RunData, per_source: int, seed: int) -> str:
    samples = D.kept_samples(run, per_source, seed)
    if not samples:
        return ('<p class="muted">No documents/ folder: add a <code>write</code> stage to the pipeline to keep the '
                "surviving documents (the Shards section shows decoded token rows).</p>") if per_source else ""
    parts = [f'<p class="muted small">A random sample (seed {esc(seed)}) of up to {esc(per_source)} kept documents '
             "per source, from documents/.</p>"]
    for source, recs in samples.items():
        parts.append(f"<h3>{esc(source)}</h3>" + "".join(_doc(r) for r in recs))
    return "".join(parts)


def _rejected(run: D.RunData, per_reason: int) -> str:
    samples = D.rejected_samples(run, per_reason)
    if not samples:
        return ""
    parts = ['<p class="muted small">The first documents each stage dropped for each reason, per task '
             "(<code>sample_rejected</code>), from rejected/.</p>"]
    wanted = {str(r.get("id")) for reasons in samples.values() for recs in reasons.values() for r in recs
              if r.get("reason") == "duplicate"}
    keeper = D.keepers(run, wanted) if wanted else {}
    for stage, reasons in samples.items():
        parts.append(f"<h3>{esc(stage.replace('_', ':', 1))}</h3>")
        for reason, recs in reasons.items():
            for r in recs:
                tag = f'<span class="tag">{esc(reason)}</span>'
                if str(r.get("id")) in keeper:
                    tag += f'<span class="tag">duplicate of {esc(keeper[str(r.get("id"))])}</span>'
                parts.append(_doc(r, extra=tag))
    return "".join(parts)


def _shards(run: D.RunData, n: int, seed: int) -> str:
    m = run.manifest
    if not m or not m.get("shards"):
        return ""
    table = _table(["shard", "split", "rows", "tokens", "sha256"],
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
                       f"{esc(_plural(len(r.segments), 'piece'))}</summary><pre>{segs}</pre></details>")
    what = ("<h3>What the model sees</h3>"
            f'<p class="muted small">{esc(len(decoded))} random {esc(split)} rows decoded with the run\'s tokenizer '
            "(<code>dataforge inspect</code> shows more).</p>" + "".join(decoded)) if decoded else ""
    return table + what


def _config(run: D.RunData) -> str:
    m = run.manifest or {}
    pipeline = run.pipeline() or (run.last_run or {}).get("pipeline")
    parts = []
    facts = [["config hash", m.get("config_hash") or (run.last_run or {}).get("config_hash", "")],
             ["seed", m.get("seed", "")], ["tokenizer sha256", (m.get("tokenizer") or {}).get("sha256", "")],
             ["last run", f"{(run.last_run or {}).get('status', '')} {(run.last_run or {}).get('finished', '')}"]]
    parts.append(_table(["run", ""], [f for f in facts if str(f[1]).strip()], left=2))
    if pipeline:
        parts.append("<h3>Pipeline file</h3><pre>"
                     + esc(yaml.safe_dump(pipeline, sort_keys=False, allow_unicode=True, width=100)) + "</pre>")
    if m.get("versions"):
        parts.append("<h3>Versions</h3>" + _table(["package", "version"], sorted(m["versions"].items()), left=2))
    return "".join(parts)

