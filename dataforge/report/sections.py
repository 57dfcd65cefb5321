"""The report's sections built from the counters (stats.json) and the manifest: funnel,
drop reasons, distributions, languages, contamination, duplicates and mixture.

Each takes the run and returns markup ("" when it has nothing to show); ``page`` puts
them in order and turns a failure into a warning in the section's place.
"""

from __future__ import annotations

from typing import Any

from ..stats import LOGIT_BINS, UNIT_BINS, logit_bin_edge
from . import data as D
from .contamination import contamination as read_contamination
from .html import Raw, compact, pct, table, warn
from .langs import first_seen, language_funnel, language_losses, loss_text, top_languages
from .samples import clusters
from .svg import DROPPED, KEPT, esc, fmt_int, grouped_hbars, histogram, stacked_hbars

def funnel_section(run: D.RunData, rows: list[D.FunnelRow]) -> str:
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
        cells += [fmt_int(r.total_docs), pct(r.total_docs, first)] + ([tok(r, r.total_tokens)] if has_tokens else [])
        table_rows.append(cells)
    note = ('<p class="muted small">Documents remaining after each stage, per source (a stage limited by '
            "<code>sources:</code> passes the others through). "
            + ("Tokens are exact from the tokenize stage on; before it (≈) they are each source's bytes times its "
               "measured tokens per byte. The last row is what the mixture put into the shards, repeats included."
               if has_tokens else "The pipeline has no tokenize stage, so there are no token counts.")
            + (f" These figures are the latest of the {run.runs} runs that built this output (append mode)."
               if run.runs > 1 else "") + "</p>")
    head = ["stage", *sources, "docs", "of read"] + (["tokens"] if has_tokens else [])
    return f"<h3>Documents</h3>{chart}{token_chart}" + table(head, table_rows) + note


def drops_section(run: D.RunData) -> str:
    parts = []
    for label, docs_in, reasons in D.drop_reasons(run):
        srcs = sorted({s for c in reasons.values() for s in c}, key=lambda s: (s == "*", s))
        total = sum(sum(c.values()) for c in reasons.values())
        rows = [[k.split(".", 1)[1] + (" (skipped)" if k.startswith("skipped.") else ""), fmt_int(sum(c.values())),
                 pct(sum(c.values()), docs_in), *[fmt_int(c.get(s, 0)) if c.get(s) else "" for s in srcs]]
                for k, c in reasons.items()]
        parts.append(f"<h3>{esc(label)}: {esc(fmt_int(total))} of {esc(fmt_int(docs_in))} documents "
                     f"({esc(pct(total, docs_in))})</h3>"
                     + table(["reason", "documents", "of stage input", *srcs], rows))
    return "".join(parts)


def distributions_section(run: D.RunData) -> str:
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
        score_bins = range(len(labels))
        parts.append(f"<h3>{esc(title)}</h3>" + histogram(
            what, labels,
            [("kept", [k.get(b, 0) for b in score_bins], KEPT), ("dropped", [d.get(b, 0) for b in score_bins], DROPPED)],
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


def languages_section(run: D.RunData) -> str:
    parts = [_language_funnel(run)]
    langs = D.languages(run)
    if langs:
        top = langs.most_common(15)
        rest = sum(langs.values()) - sum(v for _, v in top)
        rows = [(lang, [v]) for lang, v in top] + ([("other", [rest])] if rest else [])
        parts.append("<h3>Detected by langid</h3>"
                     + stacked_hbars("documents by detected language", rows, ["documents"], width=700)
                     + f'<p class="muted small">Best lid.176 label of every document the langid stage saw '
                     f"({esc(fmt_int(sum(langs.values())))} documents, {esc(len(langs))} languages), "
                     "before its threshold.</p>")
    return "".join(parts)


def _language_funnel(run: D.RunData) -> str:
    """Documents per language after each stage; a language a stage lost most of is marked."""
    rows = language_funnel(run)
    if not rows:
        return ""
    langs = top_languages(rows)
    other = any(set(r.langs) - set(langs) for r in rows)  # languages past the top 8, summed
    none = any(r.none for r in rows)
    lost = {(x["stage"], x["lang"]) for x in language_losses(run)}
    series = langs + (["other"] if other else []) + (["no language"] if none else [])

    def values(r: Any) -> list[int]:
        v = [r.langs.get(lang, 0) for lang in langs]
        return v + ([sum(n for k, n in r.langs.items() if k not in langs)] if other else []) + ([r.none] if none else [])

    first = first_seen(rows)
    grid = []
    for r in rows:
        cells: list[Any] = [r.label]
        for lang in langs:
            n = r.langs.get(lang, 0)
            share = f" <small>{esc(pct(n, first[lang]))}</small>" if first.get(lang) and n != first[lang] else ""
            mark = ' class="lost" title="the run warned: this stage dropped most of this language"' \
                if (r.label, lang) in lost else ""
            cells.append(Raw(f"<span{mark}>{esc(fmt_int(n))}</span>{share}"))
        cells += ([fmt_int(values(r)[len(langs)])] if other else []) + ([fmt_int(r.none)] if none else [])
        grid.append(cells)
    note = ('<p class="muted small">Documents carrying <code>meta.lang</code> (set by langid) after each stage, '
            "per language (percent: of that language where it first appears); a stage limited by "
            "<code>sources:</code> passes the others through. <i>no language</i>: documents of sources no "
            "language identification ran on.</p>")
    return ("<h3>Documents per language after each stage</h3>"
            + stacked_hbars("documents per language after each stage", [(r.label, values(r)) for r in rows], series)
            + table(["stage", *series], grid) + note)


def losses_banner(run: D.RunData) -> str:
    """The run's language-loss warnings, for the top of the page."""
    losses = language_losses(run)
    if not losses:
        return ""
    items = "".join(f"<li>{esc(loss_text(x))}</li>" for x in losses)
    return (f'<div class="warn"><b>Language loss</b>: {esc(len(losses))} stage/language pair'
            f'{"s" if len(losses) != 1 else ""} dropped more than the run\'s <code>language_loss_warning</code> '
            f"share of a language: are the thresholds right for these languages (<code>per_language:</code> "
            f'options)?<ul>{items}</ul><a href="#languages">per-language funnel</a></div>')


def contamination_section(run: D.RunData) -> str:
    found = read_contamination(run)
    if not found.benchmarks:
        return "".join(warn(d) for d in found.damaged)
    rows = []
    for b in found.benchmarks:
        top = ", ".join(f"{i} ({n})" for i, n in b.top(5))
        more = len(b.items) - min(5, len(b.items))
        rows.append([b.name, fmt_int(b.counted or b.documents), fmt_int(b.removed), fmt_int(b.redacted),
                     fmt_int(len(b.items)), top + (f" … (+{more})" if more > 0 else ""),
                     ", ".join(f"{s} {n:,}" for s, n in b.sources.most_common(4)), ", ".join(b.stages)])
    note = ('<p class="muted small">Documents with an n-gram of a benchmark\'s test items, per benchmark (a '
            "document matching two counts in both): <i>documents</i> from the stage's counters, the rest from "
            "its table (<code>decontamination/</code>: removed or redacted, the reference items matched and the "
            "ones matched by most documents, with their count).</p>")
    missing = "" if found.table else warn("No decontamination/ table in this output: only the counters are shown.")
    return (table(["benchmark", "documents", "removed", "redacted", "items matched",
                   "top items (documents)", "sources", "stage"], rows, left=1)
            + note + missing + "".join(warn(d) for d in found.damaged))


def dedup_section(run: D.RunData) -> str:
    parts = []
    for c in clusters(run):
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
                         + table(["kept document", "source", "removed", "size", "min Jaccard"], rows, left=3))
    if not parts:
        n_removed = sum(int(run.stats.totals(lab).get("dropped.duplicate", 0)) for lab in run.labels)
        if n_removed:
            parts.append(f"<p>{esc(fmt_int(n_removed))} duplicates removed (no clusters file in this output).</p>")
    return "".join(parts)


def mixture_section(run: D.RunData) -> str:
    rows = D.mixture(run)
    if not rows:
        return ""
    chart = grouped_hbars("target vs realised share of tokens",
                          [(r["source"], [r["target_share"], r["realised_share"]]) for r in rows],
                          ["target", "realised"], ["#999999", KEPT], fmt=lambda v: f"{100 * v:.1f}%")
    grid = table(["source", "weight", "tokens available", "target tokens", "realised tokens", "target share",
                    "realised share", "epochs", "repeats"],
                   [[r["source"], "" if r["weight"] is None else f"{r['weight']:g}",
                     fmt_int(r.get("tokens_available", 0)), fmt_int(r.get("tokens_target", 0)),
                     fmt_int(r.get("tokens_realised", 0)), f"{100 * r['target_share']:.1f}%",
                     f"{100 * r['realised_share']:.1f}%", f"{r.get('epochs', 0):.2f}",
                     _repeats(run, r["source"])] for r in rows])
    return chart + grid


def _repeats(run: D.RunData, source: str) -> str:
    v = run.keys(run.pack_label, source).get("repeats")
    return "" if v is None else fmt_int(v)


