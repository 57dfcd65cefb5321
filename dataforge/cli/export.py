"""``dataforge export``: a thin layer over ``dataforge.export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ..errors import ConfigError
from ..export import FORMATS, ExportParams, export_shards
from .common import echo, err_console, handle_errors
from .terminal import printable

_VERIFY_DEFAULT = ExportParams.model_fields["verify"].default


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), required=True,
              help="megatron: Megatron-LM .bin/.idx (one sequence per document); nanogpt: llm.c's header + "
                   "tokens (train.bin, val.bin); nanogpt-raw: nanoGPT's bare uint16 train.bin/val.bin + meta.pkl; "
                   "hf: a Hugging Face dataset for datasets.load_from_disk.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Export folder. Claimed and locked; a non-empty folder dataforge did not make is refused.")
@click.option("--split", "split", type=click.Choice(["all", "train", "validation"]), default="all",
              show_default=True, help="Which split to export (one set of files per split).")
@click.option("--prefix", default=None, show_default="none: train.bin, val.bin, ...",
              help="Start every file name with PREFIX_ (hf: the dataset goes into OUTPUT/PREFIX/). Exports with "
                   "different prefixes share a folder; the same prefix replaces the earlier export.")
@click.option("--file-tokens", type=click.IntRange(min=1, max=2**31 - 1), default=None,
              show_default="one file per split",
              help="nanogpt only: at most N tokens per file (train_000000.bin, ...); needed past 2,147,483,647 "
                   "tokens, llm.c's int32 header count.")
@click.option("--verify", type=click.Choice(["sha256", "quick"]), default=_VERIFY_DEFAULT, show_default=True,
              help="Input check: sha256 of every shard against the manifest, or headers and counts only.")
@handle_errors
def export(source: Path, fmt: str, output: Path, split: str, prefix: str | None, file_tokens: int | None,
           verify: str) -> None:
    """Export the shards in SOURCE (a dataforge run or tokenize-sft output) for another trainer.

    Every shard is checked against the manifest first (a damaged shard is refused,
    exit 2); files are written under temp names and renamed into place when all are
    complete. OUTPUT/export.json records what was written and what the format drops.

    \b
    Examples:
      dataforge export out/pretrain_mix --format megatron -o out/megatron
      dataforge export out/pretrain_mix --format nanogpt -o out/llmc --split train
      dataforge export out/sft --format hf -o out/hf_sft
    """
    try:
        params = ExportParams.model_validate({"format": fmt, "splits": None if split == "all" else (split,),
                                              "prefix": prefix, "file_tokens": file_tokens, "verify": verify})
    except ValidationError as exc:
        raise ConfigError("; ".join((f"--{'-'.join(map(str, e['loc']))}: " if e["loc"] else "")
                                    + e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    summary = export_shards(source, output, params, progress=_progress())
    for name, s in summary["splits"].items():
        docs = f", {s['documents']:,} documents" if "documents" in s else ""
        echo(printable(f"{name}: {s['tokens']:,} tokens, {s['rows']:,} rows{docs} -> "
                       + ", ".join(str(output / f) for f in s["files"])))
    echo(printable(f"keeps: {summary['keeps']}"))
    echo(printable(f"drops: {summary['drops']}"))
    echo(printable(f"wrote {output} ({summary['format']}, {summary['dtype']} tokens); "
                   f"summary in {output / (params.stem + 'export.json')}"))


def _progress() -> Any:
    con = err_console()
    if not con.is_terminal:
        return None

    def show(split: str, done: int, total: int) -> None:
        con.print(f"{split}: {done}/{total} shards", end="\r" if done < total else "\n", markup=False)

    return show
