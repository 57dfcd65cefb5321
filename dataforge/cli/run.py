"""`dataforge run`, `dataforge validate`, `dataforge stages`: the terminal side of the runner."""

from __future__ import annotations

import difflib
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import registry
from ..config import PipelineConfig, load_pipeline
from ..errors import ConfigError, DataforgeError, Interrupted
from ..reference import all_docs, option_docs, render_markdown, render_text, stage_doc
from ..runner.engine import run_pipeline
from ..runner.events import Event, PhaseEnd, PhaseStart, StepEnd, StepStart, TaskDone
from ..runner.plan import make_plan
from ..stats import Stats
from .common import EXIT_NOTHING, err_console as _err, fail, handle_errors, out_console as _out
from .terminal import cell, printable


def _load(pipeline: str, output: str | None = None) -> PipelineConfig:
    try:
        return load_pipeline(pipeline, output=output)
    except ConfigError as exc:
        fail(exc, subject=pipeline)


@click.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
def validate(pipeline: str) -> None:
    """Check a pipeline file without running it: every problem, with file:line.

    \b
    Example:
      dataforge validate pipelines/pretrain_mix.yaml
    Exit code 0 when valid, 2 with one line per problem otherwise.
    """
    cfg = _load(pipeline)
    n_files = sum(len(i.files) for i in cfg.inputs)
    click.echo(f"{pipeline}: valid ({len(cfg.inputs)} inputs, {n_files} files, {len(cfg.stages)} stages)")


@click.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the plan (phases, tasks, inputs with sizes) and stop.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (overrides executor.workers) [default: executor.workers, else all cores].")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), default=None,
              help="Output directory (overrides output: in the file) [default: the file's output:].")
@click.option("--report", "write_report", is_flag=True,
              help="After the run, write OUTPUT/report.html (as `dataforge report` does).")
def run(pipeline: str, dry_run: bool, workers: int | None, output: str | None, write_report: bool) -> None:
    """Run a pipeline file: read, filter, dedup, mix, tokenize into Arrow shards.

    \b
    Examples:
      dataforge run pipelines/pretrain_mix.yaml
      dataforge run --dry-run pipelines/pretrain_mix.yaml
      dataforge run --workers 2 --output out/nightly pipelines/pretrain_mix.yaml
      dataforge run --report pipelines/pretrain_mix.yaml
    Reruns skip finished work; a killed run resumes where it stopped. Exit codes:
    0 done, 1 failed, 2 bad pipeline file, 3 output directory locked by another run,
    4 nothing new to do (the output is up to date).
    """
    cfg = _load(pipeline, output)
    if dry_run:
        _print_plan(make_plan(cfg))
        return
    con = _err()
    progress = _Progress(con)
    try:
        with progress:
            result = run_pipeline(cfg, workers=workers, on_event=progress.event)
    except (DataforgeError, OSError, Interrupted) as exc:
        fail(exc)
    out = _out()
    if result.nothing_to_do:
        out.print(f"nothing to do: {result.output} is up to date for this pipeline file and inputs", markup=False)
        if write_report and _write_report(result.output, con):  # refreshed even when nothing was new
            out.print(f"wrote {result.output}/report.html", markup=False)
        sys.exit(EXIT_NOTHING)
    print_stats(out, result.stats)
    m = result.manifest
    if m:
        toks = m.get("tokens", {})
        out.print(f"wrote {len(m['shards'])} shards ({toks.get('train', 0):,} train, "
                  f"{toks.get('validation', 0):,} validation tokens) to {result.output / m['shard_dir']}", markup=False)
        for w in m.get("warnings", []):
            out.print(f"[yellow]warning:[/] {cell(w)}")
    for w in result.warnings:
        out.print(f"[yellow]warning:[/] {cell(w)}")
    if result.train:
        t = result.train
        out.print(f"trained {t.get('steps')} steps: train loss {t.get('train_loss', float('nan')):.3f}, "
                  f"eval loss {t.get('eval_loss') if t.get('eval_loss') is None else round(t['eval_loss'], 3)} "
                  f"({t.get('eval_origin')}), {t.get('tokens_per_s', 0):,.0f} tokens/s -> {t.get('run_dir')}",
                  markup=False)
    reported = write_report and _write_report(result.output, con)
    out.print(f"done in {result.seconds:.1f}s: {result.output}/stats.json"
              + (f", {result.output}/manifest.json" if m else "")
              + (f", {result.output}/report.html" if reported else ""), markup=False)


def _write_report(output: Path, con: Console) -> bool:
    """The report after a run. The run's data is done and good: a report that cannot be
    written is a warning, never a failed run."""
    from ..report.page import write_report  # deferred: ~0.1 s of report modules that validate and stages skip

    try:
        write_report(output)
    except (DataforgeError, OSError) as exc:
        con.print(f"[yellow]warning:[/] report not written: {cell(exc)}")
        return False
    return True


@click.command()
@click.argument("name", required=False)
@click.option("--markdown", is_flag=True, help="Print the reference of every stage and reader as Markdown "
              "(docs/stages.md is this output).")
@handle_errors
def stages(name: str | None, markdown: bool) -> None:
    """List the stages and readers a pipeline file can name (built-in and from installed
    plugins), with the package that provides each and its options; with NAME, one stage or
    reader in full: each option's type, default and meaning (with its source), the drop
    reasons it counts, and its per-language defaults.

    \b
    Examples:
      dataforge stages
      dataforge stages gopher_quality
      dataforge stages --markdown > docs/stages.md
    """
    if markdown:
        click.echo(render_markdown(all_docs()), nl=False)
        return
    if name is not None:
        kind = next((k for k in ("stages", "readers") if name in registry.table(k)), None)
        if kind is None:
            known = sorted(set(registry.table("stages")) | set(registry.table("readers")))
            raise ConfigError(f"no stage or reader named {name!r}{_suggest(name, known)}")
        click.echo(printable(render_text(stage_doc(kind, name))), nl=False)
        return
    out = _out()
    for kind in ("readers", "stages"):
        table = registry.table(kind)
        t = Table(title=kind, show_lines=False)
        t.add_column("name")
        t.add_column("package")
        t.add_column("options (default)")
        for entry in table:
            try:
                cls = registry.resolve(table, entry)
            except (ImportError, AttributeError) as exc:
                t.add_row(cell(entry), cell(registry.origin(kind, entry)), f"[dim]not available: {cell(exc)}[/]")
                continue
            opts = ", ".join(f"{o.name}={o.default}" for o in option_docs(cls.Params))
            t.add_row(cell(entry), cell(registry.origin(kind, entry)), cell(opts) or "-")
        out.print(t)
    out.print("[dim]dataforge stages NAME: one stage's options, their meaning and its drop reasons[/]")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f"; choose from: {', '.join(choices)}"


def _print_plan(plan: Any) -> None:
    out = _out()
    cfg = plan.config
    out.print(f"pipeline [bold]{cell(cfg.name)}[/] (config {plan.config_hash}, seed {cfg.seed}) -> {cell(cfg.output)}")
    t = Table(title="inputs")
    for col in ("source", "reader", "files", "bytes", "weight/tokens"):
        t.add_column(col)
    for inp in cfg.inputs:
        size = sum(Path(f).stat().st_size for f in inp.files)
        share = inp.weight if inp.weight is not None else (inp.tokens if inp.tokens is not None else "-")
        t.add_row(cell(inp.name), inp.reader, str(len(inp.files)), f"{size:,}", str(share))
    out.print(t)
    for ph in plan.phases:
        out.print(f"phase {ph.index}: {len(plan.tasks)} tasks: {ph.describe()}", markup=False)
        if ph.exit is not None:
            out.print(f"  barrier: {ph.exit.label} reduce (whole corpus)", markup=False)
    if plan.tokenize is not None:
        p = plan.tokenize.params
        src = p.tokenizer or f"train BPE vocab {p.train.vocab_size}"
        mix = "mix + " if plan.mix is not None else ""
        out.print(f"final: encode ({src}), {mix}pack seq_len {p.seq_len} ({p.packing}), "
                  f"shards of {p.rows_per_shard} rows, shuffle={p.shuffle}, validation {p.validation_fraction:g}",
                  markup=False)
    for task in plan.tasks:
        out.print(f"  task {task.task_id}: {task.path} ({task.size:,} bytes)", markup=False)


def print_stats(con: Console, stats: Stats) -> None:
    t = Table(title="stages")
    for col in ("stage", "docs in", "docs out", "MB in", "MB out", "seconds", "dropped / skipped"):
        t.add_column(col, justify="right" if col not in ("stage", "dropped / skipped") else "left")
    notes = {"mix": "planned by tokenize's reduce", "tokenizer": "trains the run's tokenizer"}
    for label in stats.all_labels():  # every stage of the pipeline, also those with no counters of their own
        tot = stats.totals(label)
        reasons = sorted(((k.split(".", 1)[1], v) for k, v in tot.items() if k.startswith(("dropped.", "skipped."))),
                         key=lambda kv: -kv[1])
        why = ", ".join(f"{r} {int(v):,}" for r, v in reasons[:4]) + (" ..." if len(reasons) > 4 else "")
        info = stats.row(label)
        if not tot and info is not None:
            why = notes.get(info["kind"], "")
        t.add_row(cell(label), _n(tot.get("docs_in")), _n(tot.get("docs_out")), _mb(tot.get("bytes_in")),
                  _mb(tot.get("bytes_out")), f"{tot.get('seconds', 0):.2f}" if tot else "", cell(why))
    con.print(t)


def _n(v: float | None) -> str:
    return "" if v is None else f"{int(v):,}"


def _mb(v: float | None) -> str:
    return "" if v is None else f"{v / 1e6:.2f}"


class _Progress:
    """Rich progress bars on a terminal; plain log lines otherwise (cron, CI)."""

    def __init__(self, con: Console) -> None:
        self.con = con
        self.live = con.is_terminal
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=con, transient=False) if self.live else None
        self.tasks: dict[str, Any] = {}
        self.t0: dict[str, float] = {}

    def __enter__(self) -> "_Progress":
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def event(self, ev: Event) -> None:
        if isinstance(ev, PhaseStart):
            self.t0[ev.title] = time.perf_counter()
            if self.bar is not None:
                self.tasks[ev.title] = self.bar.add_task(ev.title, total=ev.total, completed=ev.done)
            else:
                self.con.print(f"{ev.title}: {ev.total - ev.done} of {ev.total} tasks to run", markup=False)
        elif isinstance(ev, TaskDone) and self.bar is not None:
            self.bar.advance(self.tasks[ev.title])
        elif isinstance(ev, (PhaseEnd, StepEnd)) and self.bar is None:
            started = self.t0.get(ev.title, time.perf_counter())
            self.con.print(f"{ev.title}: done in {time.perf_counter() - started:.1f}s", markup=False)
        elif isinstance(ev, StepStart):
            self.t0[ev.title] = time.perf_counter()
            if self.bar is None:
                self.con.print(f"{ev.title} ...", markup=False)