"""``dataforge export``: a dataforge output's Arrow shards, rewritten for other trainers.

One module per format (each cites the published description it follows):

==============  ============================================  ===========================================
format          files (per split; ``<p>_`` with a prefix)      keeps / drops
==============  ============================================  ===========================================
``megatron``    ``train.bin`` + ``train.idx`` (Megatron-LM's   one sequence per document (``documents.py``);
                indexed dataset), ``train_loss_mask.*`` (SFT)  drops padding and the row layout
``nanogpt``     ``train.bin``, ``val.bin`` (llm.c: 256-int32   the token stream, EOS between documents;
                header + uint16, or uint32 above 65536 ids)    drops padding, doc_starts, the loss mask
``nanogpt-raw`` ``train.bin``, ``val.bin``, ``meta.pkl``       as nanogpt, no header; uint16 only
                (nanoGPT's bare uint16 arrays)
``hf``          ``dataset_dict.json``, ``train/``,             every packed row with attention_mask,
                ``validation/`` (``datasets.load_from_disk``)  labels/loss_mask (SFT), length, doc_starts
==============  ============================================  ===========================================

How it runs (``export_shards``): the output folder is checked first (a non-empty folder
dataforge did not make is refused), then every input shard is verified against its
manifest (sha256, rows, tokens; ``source.py``), then the folder is claimed and locked
(``OutputDir(kind="export")``) and each split is streamed shard by shard, a bounded chunk at
a time, into staged files that are renamed into place only when all are written
(``staging.py``). ``<prefix>export.json`` (written last) records the format, the source and
its manifest's sha256, per split the files, tokens, rows and documents, and what the format
keeps and drops; ``<prefix>tokenizer.json`` is a copy of the shards' tokenizer.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from .. import __version__
from ..outputs import OutputDir, check_claimable
from .base import Exporter, ExportParams, Progress, SplitResult
from .hf import HfExporter
from .llmc import LlmcExporter, NanoGptRawExporter
from .megatron import MegatronExporter
from .source import ExportError, Source, open_source
from .staging import Staging

log = logging.getLogger(__name__)

#: --format name -> writer
FORMATS: dict[str, type[Exporter]] = {
    "megatron": MegatronExporter,
    "nanogpt": LlmcExporter,
    "nanogpt-raw": NanoGptRawExporter,
    "hf": HfExporter,
}
#: the kind recorded in an export folder's marker (dataforge.outputs)
OUTPUT_KIND = "export"

__all__ = ["FORMATS", "ExportError", "ExportParams", "Source", "SplitResult", "export_shards", "open_source"]


def export_shards(source: str | Path, output: str | Path, params: ExportParams, *,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Export the shards of the dataforge output ``source`` into the folder ``output``.

    Returns the summary also written to ``<prefix>export.json``. Raises ExportError (exit 2)
    for shards that fail verification or do not fit the format, OutputNotOwned (exit 2) for
    an output folder dataforge did not make, LockedError (exit 3) when another command holds it.
    """
    source, output = Path(source), Path(output)
    if output.resolve() == source.resolve():
        raise ExportError(f"{output}: is the source folder; export into another folder")
    check_claimable(output, OUTPUT_KIND)
    src = open_source(source, splits=params.splits, full_hash=params.verify == "sha256")
    exporter = FORMATS[params.format](src, params)
    exporter.check()
    tokenizer_name = f"{params.stem}tokenizer.json"
    finals = exporter.finals() + ([tokenizer_name] if src.tokenizer is not None else [])
    with OutputDir(output, kind=OUTPUT_KIND):
        staging = Staging(output, summary_name=f"{params.stem}export.json")
        staging.check_free(finals)
        staging.start()
        try:
            results = []
            for split in src.shards:
                result = exporter.write_split(split, staging, progress)
                log.info("%s: %s split: %d tokens, %d rows -> %s", output, split, result.tokens, result.rows,
                         ", ".join(result.files))
                results.append(result)
            exporter.finish(staging, results)
            if src.tokenizer is not None:
                shutil.copyfile(src.tokenizer, staging.path(tokenizer_name))
            summary = _summary(src, exporter, params, results, tokenizer_name if src.tokenizer else None)
            summary["files"] = staging.publish(summary)
        except BaseException:
            staging.discard()
            raise
    return summary


def _summary(src: Source, exporter: Exporter, params: ExportParams, results: list[SplitResult],
             tokenizer: str | None) -> dict[str, Any]:
    m = src.manifest
    splits: dict[str, Any] = {}
    for r in results:
        if r.tokens != src.tokens[r.split]:
            raise ExportError(f"{src.root}: wrote {r.tokens} {r.split} tokens but the manifest counts "
                              f"{src.tokens[r.split]}; nothing was published")
        entry: dict[str, Any] = {"files": r.files, "tokens": r.tokens, "rows": r.rows}
        if r.documents is not None:
            entry["documents"] = r.documents
        splits[r.split] = entry
    return {
        "format": params.format,
        "made_by": f"dataforge {__version__}",
        "source": str(src.root.resolve()),
        "source_manifest_sha256": src.manifest_sha256,
        "source_name": m.get("name"),
        "kind": src.kind,
        "seq_len": src.seq_len,
        "packing": src.packing,
        "rows_in_order": src.rows_in_order,
        "vocab_size": src.vocab_size,
        "eos_id": m["eos_id"],
        "pad_id": m["pad_id"],
        "dtype": exporter.exported_dtype(),
        "tokenizer": {"file": tokenizer, "sha256": (m.get("tokenizer") or {}).get("sha256")},
        "splits": splits,
        **exporter.keeps(),
    }
