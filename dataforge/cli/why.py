"""`dataforge why OUTPUT ID`: where one document went."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..report.files import safe_json
from ..report.why import Trace, finding_text, ids_by_url, trace
from .common import handle_errors, out_console as _out
from .terminal import cell, printable


@click.command()
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.argument("doc_id", required=False)
@click.option("--url", default=None, help="Find the document(s) by meta.url instead of by id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object (with --url, a list of them).")
@handle_errors
def why(output_dir: str, doc_id: str | None, url: str | None, as_json: bool) -> None:
    """Say where one document went: read from which input file and line, dropped by which
    stage and why (with the measured value), a duplicate of which kept document, or kept.

    DOC_ID is the document's id: its input's id field, or `source/file:line` for inputs
    without one (as in rejected/, documents/ and dedup/clusters.parquet). The answer is
    put together from what the run recorded: the rejected samples (only the first
    `sample_rejected`, default 3, per reason and task of each stage: raise it on a stage
    to record more), the dedup clusters, the contamination table, documents/ (when the
    pipeline has a write stage), the run log's skipped records and the counters. When
    none of them names the document it says so, and which stages could have dropped it
    ("not sampled: dropped after X, by one of ..."). Files are streamed: memory stays
    flat whatever the output's size. --url searches rejected/ and documents/ in full.

    \b
    Examples:
      dataforge why out/pretrain_mix c4/data/c4/tiny_c4_sample.jsonl:86
      dataforge why out/pretrain_mix '<urn:uuid:2cb3abbd-7305-4de9-8d53-6b9b8e8641a0>' --json
      dataforge why out/pretrain_mix --url https://example.com/page.html
    """
    if (doc_id is None) == (url is None):
        raise ConfigError("give a document id or --url (one of them)")
    if doc_id is not None and not doc_id.strip() or url is not None and not url.strip():
        raise ConfigError("the document id (or --url) is empty")
    ids = [doc_id] if doc_id is not None else ids_by_url(output_dir, url or "")
    if not ids:
        click.echo(f"no document with meta.url {url!r} among the rejected samples and written documents of "
                   f"{output_dir} (meta.url is kept where the reader found a URL)" if not as_json else "[]")
        return
    traces = [trace(output_dir, i) for i in ids]
    if as_json:
        click.echo(safe_json([t.to_json() for t in traces] if url is not None else traces[0].to_json()))
        return
    for t in traces:
        print_trace(t)


def print_trace(t: Trace) -> None:
    """One trace on the terminal: the findings, the verdict, the candidates and notes."""
    con = _out()
    con.print(f"[bold]{cell(t.id)}[/]" + (f" (source {cell(t.source)})" if t.source else ""))
    width = max([len(f.stage or "") for f in t.findings] + [5])
    for f in t.findings:
        con.print(f"  {printable((f.stage or '?').ljust(width))}  {printable(finding_text(f))}", markup=False)
        if f.evidence != "the id":
            con.print(f"  {' ' * width}  [dim]{cell(f.evidence)}[/]")
    colour = {"dropped": "red", "kept": "green"}.get(t.verdict, "yellow")
    con.print(f"[bold {colour}]{cell(t.summary)}[/]")
    for c in t.candidates:
        done = f"; every {', '.join(c.all_sampled)} drop was sampled (not this one)" if c.all_sampled else ""
        reasons = ", ".join(f"{r} {n:,}" for r, n in c.reasons.items())
        con.print(f"  {printable(c.stage)} dropped {printable(reasons)} of its source{printable(done)}",
                  markup=False)
    for n in t.notes:
        con.print(f"[dim]note:[/] {cell(n)}")
    for d in t.damaged:
        con.print(f"[yellow]warning:[/] {cell(d)}")
