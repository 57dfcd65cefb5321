"""`dataforge report`, `dataforge inspect`, `dataforge stats`: look at what a run made."""

from __future__ import annotations

import click
from rich.table import Table

from .common import handle_errors, out_console as _out
from .run import print_stats
from .terminal import cell, printable

@click.command()
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Where to write the HTML (default OUTPUT_DIR/report.html).")
@click.option("--samples", type=int, default=3, show_default=True, help="Kept documents shown per source.")
@click.option("--rejected", type=int, default=2, show_default=True, help="Rejected documents shown per reason.")
@click.option("--rows", type=int, default=2, show_default=True, help="Decoded shard rows shown.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random samples.")
@handle_errors
def report(output_dir: str, out_file: str | None, samples: int, rejected: int, rows: int, seed: int) -> None:
    """Write one self-contained HTML report of a finished run (no network needed to view it).

    It shows the funnel (documents and tokens after each stage, per source), drop reasons,
    length / language-score / quality-score histograms, languages, dedup clusters, target
    vs realised mixture, samples of kept and rejected documents, decoded shard rows, and
    the run's pipeline file and versions. Crawled text is escaped and the page runs no script.

    \b
    Example:
      dataforge report out/pretrain_mix
      dataforge report out/pretrain_mix -o /tmp/mix.html --samples 5
    """
    from ..report.page import write_report

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
@handle_errors
def inspect(path: str, n: int, seed: int, split: str | None, max_chars: int, as_json: bool) -> None:
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
    """
    from ..report.shards import decode_rows, load_tokenizer, locate, sample_rows, summary, to_json

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
@click.option("--json", "as_json", is_flag=True, help="Print the funnel as JSON.")
@handle_errors
def stats(output_dir: str, as_json: bool) -> None:
    """Print a finished run's funnel (documents and tokens after each stage, per source)
    and its per-stage table (documents and MB in and out, time, drop reasons).

    \b
    Example:
      dataforge stats out/pretrain_mix
    """
    import json

    from ..report.data import funnel, load_run
    from ..report.page import compact

    run = load_run(output_dir)
    rows = funnel(run)
    if as_json:
        click.echo(json.dumps([{"stage": r.label, "docs": r.docs, "tokens": r.tokens, "tokens_exact": r.exact_tokens}
                               for r in rows], indent=1))
        return
    con = _out()
    t = Table(title="funnel: documents after each stage (tokens: ≈ estimated from bytes before tokenize)")
    t.add_column("stage")
    for s in run.sources:
        t.add_column(cell(s), justify="right")
    t.add_column("docs", justify="right")
    t.add_column("tokens", justify="right")
    for r in rows:
        approx = "" if r.exact_tokens else "≈"
        t.add_row(cell(r.label), *[f"{r.docs[s]:,}" for s in run.sources], f"{r.total_docs:,}",
                  "" if r.total_tokens is None else approx + compact(r.total_tokens))
    con.print(t)
    print_stats(con, run.stats)
