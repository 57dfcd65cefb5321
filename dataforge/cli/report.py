"""`dataforge report`, `dataforge inspect`, `dataforge stats`: look at what a run made (`why`: cli/why.py).

Each command imports the report modules it uses inside it: they load pyarrow and tokenizers
(~0.5 s together), which ``--help`` and the other two commands do not need."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from .common import err_console as _err, handle_errors, out_console as _out
from .terminal import cell, printable

if TYPE_CHECKING:
    from ..report.data import RunData


@click.command()
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.option("-o", "--output", "--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Where to write the HTML (default OUTPUT_DIR/report.html).")
@click.option("--samples", type=int, default=3, show_default=True, help="Kept documents shown per source.")
@click.option("--rejected", type=int, default=2, show_default=True, help="Rejected documents shown per reason.")
@click.option("--rows", type=int, default=2, show_default=True, help="Decoded shard rows shown.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random samples.")
@handle_errors
def report(output_dir: str, out_file: str | None, samples: int, rejected: int, rows: int, seed: int) -> None:
    """Write one self-contained HTML report of a finished run (no network needed to view it).

    It shows the funnel (documents and tokens after each stage, per source), drop reasons,
    length / language-score / quality-score histograms, the funnel per language (with the
    run's language-loss warnings at the top), contamination per benchmark, dedup clusters,
    target vs realised mixture, samples of kept and rejected documents (with the measured
    value that failed the rule), decoded shard rows, and the run's pipeline file and
    versions. Crawled text is escaped and the page runs no script. A damaged file costs
    only the sections that need it (named at the top and in their place).

    \b
    Example:
      dataforge report out/pretrain_mix
      dataforge report out/pretrain_mix -o /tmp/mix.html --samples 5
    """
    from ..report.page import write_report  # deferred: ~0.5 s (pyarrow, tokenizers)

    target, size = write_report(output_dir, out_file, kept_per_source=samples, rejected_per_reason=rejected,
                                decoded_rows=rows, seed=seed)
    click.echo(f"wrote {target} ({size / 1024:,.0f} KB)")


@click.command()
@click.argument("path", type=click.Path(exists=False))
@click.option("-n", "--n", "n", type=int, default=3, show_default=True, help="Random rows to decode.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed choosing the rows.")
@click.option("--split", default=None, help="Only this split's shards, e.g. train or validation (default: all).")
@click.option("--max-chars", type=int, default=2000, show_default=True,
              help="Characters shown per decoded piece (0 = all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--id", "doc_id", default=None,
              help="Instead: where this document went (as `dataforge why PATH ID`; PATH is the output directory).")
@handle_errors
def inspect(path: str, n: int, seed: int, split: str | None, max_chars: int, as_json: bool,
            doc_id: str | None) -> None:
    """Show what shards hold: counts, tokens and dtype from the manifest, and random rows
    decoded back to text with the run's tokenizer.

    PATH is an output directory (its manifest.json) or one shard file. Rows are cut where
    documents start (pretraining) or where the loss mask changes (SFT: prompt vs target),
    and special tokens such as EOS are shown.

    \b
    Examples:
      dataforge inspect out/pretrain_mix
      dataforge inspect out/pretrain_mix --n 5 --seed 1 --split validation
      dataforge inspect out/pretrain_mix/shards/train-00000.arrow --json
      dataforge inspect out/pretrain_mix --id c4/data/c4/tiny_c4_sample.jsonl:86
    """
    from ..report.shards import (decode_rows, load_tokenizer, locate,  # deferred: ~0.5 s (pyarrow, tokenizers)
                                 sample_rows, summary, to_json)

    if doc_id is not None:
        from ..report.files import safe_json  # deferred: ~0.5 s (pyarrow, tokenizers)
        from ..report.why import trace  # deferred: as above
        from .why import print_trace  # deferred: as above

        found = trace(path, doc_id)
        if as_json:
            click.echo(safe_json(found.to_json()))
        else:
            print_trace(found)
        return

    shards = locate(path, split)
    info = summary(shards)
    tokenizer = load_tokenizer(shards)
    rows = decode_rows(tokenizer, sample_rows(shards, n, seed))
    if as_json:
        click.echo(to_json(info, rows))
        return
    con = _out()
    head = Table(title=cell(f"{info.get('name') or path}: {info.get('kind')} shards"), show_header=False)
    head.add_column("", style="bold")
    head.add_column("")
    for key in ("dtype", "vocab_size", "seq_len", "packing", "eos_id", "config_hash", "seed", "tokenizer_sha256"):
        if info.get(key) is not None:
            head.add_row(key, cell(info[key]))
    con.print(head)
    t = Table(title="splits")
    for col in ("split", "shards", "rows", "tokens"):
        t.add_column(col, justify="left" if col == "split" else "right")
    for name, s in info["splits"].items():
        t.add_row(cell(name), f"{s['shards']:,}", f"{s['rows']:,}", f"{s['tokens']:,}")
    con.print(t)
    if info["sources"] and split is None and len(shards.shards) == len((shards.manifest or {}).get("shards", [])):
        st = Table(title="tokens per source (last run's mixture)")
        st.add_column("source")
        st.add_column("tokens", justify="right")
        for name, v in info["sources"].items():
            st.add_row(cell(name), f"{v or 0:,}")
        con.print(st)
    if tokenizer is None and rows:
        con.print("no tokenizer.json beside the manifest: showing token ids", markup=False)
    for r in rows:
        con.rule(cell(f"{r.shard} row {r.row}: {r.length} of {r.seq_len} tokens, {len(r.segments)} pieces"))
        for seg in r.segments:
            text = seg.text if max_chars <= 0 else seg.text[:max_chars] + ("…" if len(seg.text) > max_chars else "")
            con.print(printable(f"[{seg.kind}, {seg.tokens} tokens]"), style="bold cyan", markup=False)
            con.print(printable(text), markup=False, highlight=False,
                      style="dim" if seg.kind == "prompt" else None)


@click.command()
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {funnel, stages, languages, language_losses, contamination, problems}.")
@handle_errors
def stats(output_dir: str, as_json: bool) -> None:
    """Print a finished run's funnel (documents and tokens after each stage, per source),
    its per-stage table (documents and MB in and out, time, every drop reason), the
    documents per language after each stage (when langid ran), the contamination found
    per benchmark (when decontaminate ran), and the run's language-loss warnings.

    Needs only stats.json (and decontamination/ for that table): a damaged manifest.json
    is named in a warning and ignored.

    \b
    Example:
      dataforge stats out/pretrain_mix
      dataforge stats out/pretrain_mix --json
    """
    from ..report.data import load_run  # deferred: ~0.5 s (pyarrow, tokenizers)
    from ..report.files import safe_json  # deferred: as above
    from ..report.summary import stats_json  # deferred: as above

    run = load_run(output_dir, require_stats=True)
    for msg in run.problems.values():
        _err().print(f"[yellow]warning:[/] {cell(msg)} (ignored: stats needs only stats.json)")
    if as_json:
        click.echo(safe_json(stats_json(run)))
        return
    _print_stats(run)


def _print_stats(run: "RunData") -> None:
    from ..report.contamination import contamination  # deferred: ~0.5 s (pyarrow, tokenizers)
    from ..report.data import funnel  # deferred: as above
    from ..report.html import compact  # deferred: as above
    from ..report.langs import language_losses, loss_text  # deferred: as above
    from ..report.summary import funnel_columns, language_table, stage_rows  # deferred: as above

    con = _out()
    for x in language_losses(run):
        con.print(f"[bold yellow]warning: language loss:[/] {cell(loss_text(x))}")
    rows = funnel(run)
    shown, other = funnel_columns(run, rows)
    t = Table(title="funnel: documents after each stage (tokens: ≈ estimated from bytes before tokenize)")
    t.add_column("stage")
    for s in shown:
        t.add_column(cell(s), justify="right")
    if other:
        t.add_column(f"other ({len(run.sources) - len(shown)})", justify="right")
    t.add_column("docs", justify="right")
    t.add_column("tokens", justify="right")
    for r in rows:
        approx = "" if r.exact_tokens else "≈"
        rest = [f"{r.total_docs - sum(r.docs[s] for s in shown):,}"] if other else []
        t.add_row(cell(r.label), *[f"{r.docs[s]:,}" for s in shown], *rest, f"{r.total_docs:,}",
                  "" if r.total_tokens is None else approx + compact(r.total_tokens))
    con.print(t)
    st = Table(title="stages")
    for col in ("stage", "docs in", "docs out", "kept", "MB in", "MB out", "seconds", "dropped / skipped"):
        st.add_column(col, justify="left" if col in ("stage", "dropped / skipped") else "right")
    for srow in stage_rows(run):
        reasons = list(srow["reasons"].items())
        why = "\n".join(f"{k} {v:,}" for k, v in reasons[:8]) + (f"\n+{len(reasons) - 8} more" if len(reasons) > 8 else "")
        kept = f"{100 * srow['docs_out'] / srow['docs_in']:.1f}%" if srow["docs_in"] and srow["docs_out"] is not None \
            else ""
        if srow["docs_in"] is None and srow["kind"] == "mix":
            why = "planned by tokenize's reduce"
        st.add_row(cell(srow["stage"]), _n(srow["docs_in"]), _n(srow["docs_out"]), kept, _mb(srow["bytes_in"]),
                   _mb(srow["bytes_out"]), f"{srow['seconds']:.2f}", cell(why))
    con.print(st)
    langs, lrows = language_table(run)
    if lrows:
        lt = Table(title="documents per language (meta.lang) after each stage")
        lt.add_column("stage")
        other_langs = any(lrow["other"] for lrow in lrows)
        no_lang = any(lrow["none"] for lrow in lrows)
        for name in langs + (["other"] if other_langs else []) + (["no language"] if no_lang else []):
            lt.add_column(cell(name), justify="right")
        for lrow in lrows:
            lt.add_row(cell(lrow["stage"]), *[f"{lrow['langs'][lang]:,}" for lang in langs],
                       *([f"{lrow['other']:,}"] if other_langs else []), *([f"{lrow['none']:,}"] if no_lang else []))
        con.print(lt)
    found = contamination(run)
    if found.benchmarks:
        ct = Table(title="contamination per benchmark (decontaminate)")
        for col in ("benchmark", "documents", "removed", "redacted", "items matched", "top items (documents)"):
            ct.add_column(col, justify="left" if col in ("benchmark", "top items (documents)") else "right")
        for b in found.benchmarks:
            top = "\n".join(f"{i} ({n:,})" for i, n in b.top(5))
            ct.add_row(cell(b.name), f"{b.counted or b.documents:,}", f"{b.removed:,}", f"{b.redacted:,}",
                       f"{len(b.items):,}", cell(top))
        con.print(ct)
        if not found.table:
            con.print("no decontamination/ table in this output: documents counted, items not known", markup=False)
    for d in found.damaged:
        _err().print(f"[yellow]warning:[/] {cell(d)}")


def _n(v: float | None) -> str:
    return "" if v is None else f"{int(v):,}"


def _mb(v: float | None) -> str:
    return "" if v is None else f"{v / 1e6:.2f}"
