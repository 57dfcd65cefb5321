"""``dataforge sft-mix MIX.yaml``: several instruction collections into one seeded, shuffled mix.

Targets follow FLAN's examples-proportional mixing with a cap (Chung et al. 2022,
section 2.2, after Raffel et al. 2020 section 3.5.2: a collection's rate is
proportional to ``min(n, K)``, so a huge collection cannot swamp the mix) and
up-weighting of high-quality collections (each rate times its ``weight``):

    rate_i = weight_i * min(n_i, cap_i) / sum_j weight_j * min(n_j, cap_j)
    target_i = round(total * rate_i)     (total: the mix's ``total``, else sum_j min(n_j, cap_j))

A target above ``n_i`` repeats the collection up to ``max_epochs`` (1 by default: no
repeats), so the realised count may fall short; the report says so per collection.
Each collection contributes ``floor(target / n)`` full epochs plus a seeded sample of
the rest (``random.Random(xxhash(seed, name))``); the mix is shuffled by a stable hash
of (seed, collection, record, epoch), holding 16 bytes per selected record in memory
(the records themselves are spooled to a temporary file).

Records are read with ``records.read_records`` and must be Alpaca or chat records
(``chat.to_conversation``; others are skipped and counted); each is written as read,
with ``collection`` added. With ``sft:`` the mix is also tokenized into SFT shards.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import xxhash
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..yamlfile import load_yaml
from ..errors import ConfigError, Problem
from ..io import atomic_write, atomic_write_text
from .chat import to_conversation
from .records import read_records
from .sft import SftSettings, tokenize_sft


class Collection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    weight: float = Field(1.0, ge=0, allow_inf_nan=False)  # up-weighting of a high-quality collection
    cap: int | None = Field(None, ge=1)  # this collection's K (overrides the mix's cap)


class SftOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokenizer: str
    output: str  # the shards' directory
    seq_len: int = Field(512, ge=2)  # stanford_alpaca train.py model_max_length, as tokenize-sft
    validation_fraction: float = Field(0.0, ge=0, lt=1)


class MixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    output: str
    total: int | None = Field(None, ge=1)  # None: the sum of the capped sizes
    cap: int | None = Field(None, ge=1)  # FLAN's K for every collection (None: no cap)
    max_epochs: float = Field(1.0, ge=1, allow_inf_nan=False)  # repeats allowed when a target exceeds a collection
    collections: dict[str, Collection] = Field(min_length=1)
    sft: SftOptions | None = None


def load_mix(path: Path) -> MixConfig:
    """The mix file, validated whole (every key once, line numbers); relative paths in it
    are relative to the current folder, as in a pipeline file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read the mix file ({exc.strerror})")]) from exc
    data, lines = load_yaml(text, path=str(path))
    try:
        config = MixConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([Problem(str(path), lines.line(*e["loc"]), ".".join(str(p) for p in e["loc"]),
                                   str(e["msg"]).removeprefix("Value error, ")) for e in exc.errors()]) from exc
    base = Path(path).parent
    problems = [Problem(str(path), lines.line("collections", name, "path"), f"collections.{name}.path",
                        f"'{c.path}' does not exist (relative to {Path.cwd()})")
                for name, c in config.collections.items() if not _resolve(base, c.path).is_file()]
    if not any(c.weight > 0 for c in config.collections.values()):
        problems.append(Problem(str(path), None, "collections", "every weight is 0"))
    if problems:
        raise ConfigError(problems)
    return config


def _resolve(base: Path, path: str) -> Path:
    """One rule for every path (README "Paths"): relative to the current folder."""
    return Path(path)


def plan(config: MixConfig, available: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per collection: available, capped size, rate, target, realised (see the module docstring)."""
    sizes = {n: min(available[n], c.cap or config.cap or available[n]) for n, c in config.collections.items()}
    mass = {n: config.collections[n].weight * sizes[n] for n in sizes}
    norm = sum(mass.values()) or 1.0
    total = config.total if config.total is not None else sum(sizes.values())
    out = {}
    for name in config.collections:
        target = round(total * mass[name] / norm)
        realised = min(target, math.floor(available[name] * config.max_epochs))
        out[name] = {"available": available[name], "capped": sizes[name], "weight": config.collections[name].weight,
                     "rate": round(mass[name] / norm, 6), "target": target, "realised": realised,
                     "epochs": round(realised / available[name], 4) if available[name] else 0.0}
    got = sum(v["realised"] for v in out.values()) or 1
    for v in out.values():
        v["share"] = round(v["realised"] / got, 6)
    return out


def _usable(path: Path, counts: Counter[str], name: str) -> Any:
    for where, rec in read_records(path):
        try:
            to_conversation(rec)
        except ValueError:
            counts[f"{name}.skipped"] += 1
            continue
        yield where, rec


def run_mix(mix_path: Path, *, output: Path | None = None) -> dict[str, Any]:
    """Write the mix (and its ``.mix.json`` report); tokenize it when the mix has ``sft:``."""
    config = load_mix(mix_path)
    base = Path(mix_path).parent
    out_path = Path(output or _resolve(base, config.output))
    paths = {n: _resolve(base, c.path) for n, c in config.collections.items()}
    skipped: Counter[str] = Counter()
    available = {n: sum(1 for _ in _usable(p, Counter(), n)) for n, p in paths.items()}
    table = plan(config, available)
    spool = out_path.with_name(f".{out_path.name}.{os.getpid()}.spool")
    keys: list[tuple[int, int, int]] = []  # (shuffle key, offset, length) of each selected record in the spool
    try:
        with open(spool, "wb") as fh:
            for name, path in paths.items():
                n, want = available[name], table[name]["realised"]
                if not n or not want:
                    continue
                full, rest = divmod(want, n)
                extra = set(random.Random(xxhash.xxh64_intdigest(f"{config.seed}:{name}".encode())).sample(range(n), rest))
                for i, (_, rec) in enumerate(_usable(path, skipped, name)):
                    copies = full + (i in extra)
                    if not copies:
                        continue
                    line = (json.dumps({**rec, "collection": name}, ensure_ascii=False) + "\n").encode("utf-8")
                    offset = fh.tell()
                    fh.write(line)
                    for epoch in range(copies):
                        key = xxhash.xxh64_intdigest(f"{config.seed}:{name}:{i}:{epoch}".encode())
                        keys.append((key, offset, len(line)))
        keys.sort()
        _write_shuffled(spool, out_path, keys)
    finally:
        spool.unlink(missing_ok=True)
    report = {"mix": str(mix_path), "output": str(out_path), "seed": config.seed, "total_target":
              sum(v["target"] for v in table.values()), "total_realised": len(keys), "collections": table,
              "skipped": dict(skipped)}
    if config.sft is not None:
        sft = config.sft
        manifest = tokenize_sft(out_path, tokenizer=_resolve(base, sft.tokenizer), output=_resolve(base, sft.output),
                                settings=SftSettings(seq_len=sft.seq_len, validation_fraction=sft.validation_fraction,
                                                     seed=config.seed))
        report["sft"] = {"output": str(_resolve(base, sft.output)), "counts": manifest["counts"]}
    atomic_write_text(out_path.with_name(out_path.name + ".mix.json"), json.dumps(report, indent=2) + "\n")
    return report


def _write_shuffled(spool: Path, out_path: Path, keys: list[tuple[int, int, int]]) -> None:
    """JSONL in key order, or one JSON array for a ``.json`` output; atomically."""
    as_array = out_path.suffix == ".json"
    with open(spool, "rb") as src, atomic_write(out_path, "wb") as dst:
        dst.write(b"[\n" if as_array else b"")
        for n, (_, offset, length) in enumerate(keys):
            src.seek(offset)
            line = src.read(length)
            if as_array:
                dst.write((b",\n" if n else b"") + line.rstrip(b"\n"))
            else:
                dst.write(line)
        dst.write(b"\n]\n" if as_array else b"")
