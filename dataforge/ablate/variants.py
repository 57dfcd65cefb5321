"""Variants of a pipeline: named edits of its raw configuration (no I/O, no runner).

An edit is a small string, parsed here and applied to the pipeline's raw mapping (the
YAML as loaded), so each variant is an ordinary pipeline the normal runner builds:

* ``full``: the pipeline unchanged.
* ``raw`` (also ``only=read``): every stage removed except ``mix`` and ``tokenize`` (the
  read documents, mixed and tokenized as the pipeline would: no filter, no dedup).
* ``only=STAGE,STAGE``: those stages kept (plus ``mix`` and ``tokenize``), all others removed.
* ``-STAGE`` / ``-A,B`` / ``-A,-B``: the named stages removed. A stage is named by its name
  (``minhash_dedup``) or its label (``12:minhash_dedup``, for a name used twice).
* ``STAGE.option=VALUE``: one stage option set; VALUE is YAML (``0.8``, ``[en, de]``, ``null``).
* ``inputs.NAME.key=VALUE``: an input's setting (``inputs.c4.weight=0.3``: a different mix).
* Several edits in one variant are separated by ``;``:
  ``-paragraph_dedup;quality_classifier.top_fraction=0.5``.

Every edit is checked against the pipeline before any work: an unknown stage lists the
pipeline's stages, a non-finite number is refused, ``tokenize`` may not be removed.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import ConfigError, Problem
from ..registry import TERMINAL

#: a variant name becomes a folder name: keep it to a safe, short alphabet
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


@dataclass(frozen=True)
class Variant:
    """One named variant: its edit string and the pipeline mapping it yields."""

    name: str
    edit: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    removed: tuple[str, ...] = ()  # labels of the stages this variant removed, for the table


def stage_entries(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, label) of each stage of a raw pipeline mapping, labels as the config gives them."""
    out = []
    for i, item in enumerate(raw.get("stages") or []):
        if isinstance(item, str):
            name = item
        elif isinstance(item, dict) and len(item) == 1:
            name = str(next(iter(item)))
        else:
            name = f"<stage {i}>"
        out.append((name, f"{i}:{name}"))
    return out


def _err(source: str, variant: str, message: str) -> ConfigError:
    return ConfigError([Problem(source, None, f"ablate.variants.{variant}", message)])


def _finite(value: Any) -> bool:
    """True when no float anywhere in ``value`` is NaN or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _resolve(token: str, entries: list[tuple[str, str]], *, source: str, variant: str) -> list[int]:
    """Indices of the stages ``token`` names (a name may match several; a label one)."""
    token = token.strip()
    hits = [i for i, (name, label) in enumerate(entries) if token in (name, label)]
    if not hits:
        listing = ", ".join(label for _, label in entries) or "none"
        raise _err(source, variant, f"'{token}' is not a stage of this pipeline (its stages: {listing})")
    return hits


def _parse_value(text: str, *, source: str, variant: str, key: str) -> Any:
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise _err(source, variant, f"{key}: value {text!r} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value.strip()):
        value = float(value)  # 1e-3 is a string to YAML 1.1; it means the number here
    if not _finite(value):
        raise _err(source, variant, f"{key}: {text!r} is not a finite number; give a finite value")
    return value


def _set_stage_option(stages: list[Any], idx: list[int], option: str, value: Any) -> None:
    for i in idx:
        item = stages[i]
        if isinstance(item, str):
            item = {item: {}}
        (name, opts), = item.items()
        opts = dict(opts or {})
        opts[option] = value
        stages[i] = {name: opts}


def apply_edit(raw: dict[str, Any], name: str, edit: str, *, source: str = "<variants>") -> Variant:
    """The pipeline ``raw`` with ``edit`` applied (a deep copy; ``raw`` is not changed)."""
    if not NAME_PATTERN.match(name):
        raise _err(source, name or "''", f"variant name {name!r} must be 1-64 letters, digits, '_', '-', '.', '+' "
                                         "(it names a folder), starting with a letter or digit")
    if not isinstance(edit, str) or not edit.strip():
        raise _err(source, name, "empty edit; use 'full' for the pipeline unchanged")
    out = copy.deepcopy(raw)
    entries = stage_entries(out)
    stages: list[Any] = list(out.get("stages") or [])
    drop: set[int] = set()
    for part in (p.strip() for p in edit.split(";")):
        if not part:
            continue
        if part == "full":
            continue
        if part in ("raw", "only=read"):
            drop |= {i for i, (n, _) in enumerate(entries) if n not in TERMINAL}
        elif part.startswith("only="):
            keep: set[int] = set()
            for tok in part[len("only="):].split(","):
                if tok.strip() and tok.strip() != "read":
                    keep |= set(_resolve(tok, entries, source=source, variant=name))
            drop |= {i for i, (n, _) in enumerate(entries) if n not in TERMINAL and i not in keep}
        elif part.startswith("-"):
            for tok in part[1:].split(","):
                tok = tok.strip().removeprefix("-")
                if not tok:
                    raise _err(source, name, f"'{part}': an empty stage name; write -STAGE or -A,B")
                drop |= set(_resolve(tok, entries, source=source, variant=name))
        elif "=" in part:
            key, _, text = part.partition("=")
            key = key.strip()
            value = _parse_value(text, source=source, variant=name, key=key)
            if key.startswith("inputs."):
                _, _, rest = key.partition(".")
                inp, _, opt = rest.partition(".")
                inputs = out.get("inputs") or {}
                if inp not in inputs:
                    raise _err(source, name, f"{key}: '{inp}' is not an input (inputs: {', '.join(sorted(inputs))})")
                if not opt:
                    raise _err(source, name, f"{key}: name the setting, e.g. inputs.{inp}.weight=0.3")
                inputs[inp] = {**inputs[inp], opt: value}
            else:
                target, dot, option = key.rpartition(".")
                if not dot or not target or not option:
                    raise _err(source, name, f"'{part}': write STAGE.option=VALUE (e.g. minhash_dedup.threshold=0.8)")
                idx = _resolve(target, entries, source=source, variant=name)
                if set(idx) & drop:
                    raise _err(source, name, f"'{part}': stage '{target}' is removed by this variant")
                _set_stage_option(stages, idx, option, value)
        else:
            raise _err(source, name, f"cannot read edit '{part}': use full, raw, only=STAGE,..., -STAGE, "
                                     "STAGE.option=VALUE or inputs.NAME.key=VALUE (several joined by ';')")
    for i in drop:
        if entries[i][0] == "tokenize":
            raise _err(source, name, "a variant must keep 'tokenize' (there would be no shards to train on)")
    out["stages"] = [s for i, s in enumerate(stages) if i not in drop]
    return Variant(name=name, edit=edit, raw=out, removed=tuple(entries[i][1] for i in sorted(drop)))


def parse_cli_variant(text: str) -> tuple[str, str]:
    """``NAME=EDIT`` from the command line; a bare ``full`` or ``raw`` names itself."""
    name, eq, edit = text.partition("=")
    if not eq:
        if text.strip() in ("full", "raw"):
            return text.strip(), text.strip()
        raise ConfigError(f"--variant {text!r}: write NAME=EDIT (e.g. no-dedup=-minhash_dedup), or full / raw")
    return name.strip(), edit.strip()


def build_variants(raw: dict[str, Any], specs: list[tuple[str, str]], *, source: str) -> list[Variant]:
    """Every variant checked (names unique, edits valid); all problems raised together."""
    problems: list[Problem] = []
    out: list[Variant] = []
    seen: set[str] = set()
    if not specs:
        raise ConfigError([Problem(source, None, "ablate.variants", "no variants: give --variant NAME=EDIT "
                                   "(at least two, e.g. full and raw) or an ablate: variants: section")])
    for name, edit in specs:
        if name in seen:
            problems.append(Problem(source, None, f"ablate.variants.{name}", "variant named twice"))
            continue
        seen.add(name)
        try:
            out.append(apply_edit(raw, name, edit, source=source))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    if len(out) < 2:
        raise ConfigError([Problem(source, None, "ablate.variants", "an ablation compares at least two variants "
                                   "(e.g. --variant full --variant raw)")])
    return out
