"""The one registry: YAML names -> code. Adding a stage or reader is one line here.

Entries are ``"module:Class"`` strings resolved on first use, so optional parts (the
quality classifier, Ray) cost nothing until a pipeline names them. Names come only
from these dicts and from installed plugins: a pipeline file can never import code by
name.

**Plugins.** A package adds stages and readers with Python entry points in the groups
``dataforge.stages`` and ``dataforge.readers`` (``name = "module:Class"``, e.g. in its
pyproject.toml: ``[project.entry-points."dataforge.stages"] my_filter =
"my_pkg.filters:MyFilter"``). Once the package is installed, a pipeline file names
``my_filter`` like a built-in; its Params model is validated like a built-in's, and
``dataforge stages`` lists it with its package. A plugin cannot replace a built-in name
(it is ignored, with a warning naming both).
"""

from __future__ import annotations

import importlib
import logging
from importlib import metadata
from typing import Any

log = logging.getLogger(__name__)

STAGES: dict[str, str] = {
    # text-changing stages
    "extract_html": "dataforge.readers.html:ExtractHtml",
    "write": "dataforge.writers:Write",
    "fix_text": "dataforge.filters.fix_text:FixText",  # issue 15
    "normalize_text": "dataforge.filters.fix_text:NormalizeText",  # issue 15
    # filters (issue 3)
    "langid": "dataforge.filters.langid:LangId",
    "gopher_quality": "dataforge.filters.gopher:GopherQuality",
    "gopher_repetition": "dataforge.filters.gopher:GopherRepetition",
    "c4": "dataforge.filters.c4:C4",
    "c4_badwords": "dataforge.filters.badwords:C4BadWords",  # issue 15
    "fineweb_quality": "dataforge.filters.fineweb:FineWebQuality",
    "url_filter": "dataforge.filters.url:UrlFilter",
    "select": "dataforge.filters.select:Select",
    "decontaminate": "dataforge.filters.decontaminate:Decontaminate",  # issue 15
    "pii": "dataforge.filters.pii:Pii",
    "code_quality": "dataforge.filters.code_quality:CodeQuality",  # issue 15
    "quality_classifier": "dataforge.filters.quality:QualityClassifier",
    "perplexity": "dataforge.filters.perplexity:Perplexity",  # issue 15
    # barriers (issue 4)
    "exact_dedup": "dataforge.dedup.exact:ExactDedup",
    "minhash_dedup": "dataforge.dedup.minhash:MinhashDedup",
    "paragraph_dedup": "dataforge.dedup.paragraph:ParagraphDedup",  # issue 15
    "sentence_dedup": "dataforge.dedup.paragraph:SentenceDedup",  # issue 15
    # terminal steps, handled by the runner's final phase
    "mix": "dataforge.mix:Mix",
    "tokenize": "dataforge.tokenize.stage:Tokenize",
}

READERS: dict[str, str] = {
    "jsonl": "dataforge.readers.jsonl:JsonlReader",
    "parquet": "dataforge.readers.parquet:ParquetReader",
    "text": "dataforge.readers.text:TextReader",
    "warc": "dataforge.readers.warc:WarcReader",
    "wet": "dataforge.readers.warc:WetReader",
    "instructions": "dataforge.readers.instructions:InstructionsReader",
}

#: stages that must come last, in this order (they run in the final phase)
TERMINAL = ("mix", "tokenize")


GROUPS = {"stages": "dataforge.stages", "readers": "dataforge.readers"}


def plugins(kind: str) -> dict[str, tuple[str, str]]:
    """Installed plugins of ``kind`` ("stages" or "readers"): name -> (target, package)."""
    out: dict[str, tuple[str, str]] = {}
    builtin = STAGES if kind == "stages" else READERS
    for ep in metadata.entry_points(group=GROUPS[kind]):
        package = ep.dist.name if ep.dist is not None else "?"
        if ep.name in builtin:
            log.warning("plugin %s %s '%s' has the name of a built-in one and is ignored", package, kind[:-1], ep.name)
            continue
        out.setdefault(ep.name, (ep.value, package))
    return out


def table(kind: str) -> dict[str, str]:
    """Every name a pipeline file may use for ``kind``: built-ins first, then plugins."""
    builtin = STAGES if kind == "stages" else READERS
    return {**builtin, **{name: target for name, (target, _) in plugins(kind).items()}}


def origin(kind: str, name: str) -> str:
    """The package that provides ``name``: "dataforge" for built-ins."""
    builtin = STAGES if kind == "stages" else READERS
    return "dataforge" if name in builtin else plugins(kind).get(name, ("", "?"))[1]


def resolve(table: dict[str, str], name: str) -> Any:
    """Import and return the class registered under ``name``."""
    module, _, attr = table[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def available(table: dict[str, str]) -> list[str]:
    """Names whose module imports here (a stage whose module is not written yet is left out)."""
    out = []
    for name in table:
        try:
            resolve(table, name)
        except (ImportError, AttributeError):
            continue
        out.append(name)
    return out
