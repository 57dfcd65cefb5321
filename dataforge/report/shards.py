"""Look inside token shards: what the manifest says, and random rows decoded back to text.

Used by ``dataforge inspect`` and by the report's "what the model sees" section. A row is
cut at its ``doc_starts`` (pretraining) or at changes of its ``loss_mask`` (SFT: prompt vs
trained response), so document and target boundaries stay visible after decoding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import sha256_file
from ..tokenize.encode import load_tokenizer as load_run_tokenizer
from ..tokenize.shards import MANIFEST, ShardError, ShardView, open_shard
from .files import ReportError, load_manifest, safe_json

@dataclass
class ShardSet:
    root: Path | None  # the folder holding manifest.json (None: a lone shard file)
    manifest: dict[str, Any] | None
    shards: list[tuple[Path, dict[str, Any]]]  # (path, manifest entry or shard metadata)


@dataclass
class Segment:
    kind: str  # "document" (pretraining), "prompt" / "target" (SFT)
    tokens: int
    text: str


@dataclass
class Row:
    shard: str
    row: int
    length: int
    seq_len: int
    segments: list[Segment] = field(default_factory=list)


def read_manifest(root: Path) -> dict[str, Any]:
    """``root/manifest.json``, checked; a ShardError naming it when missing or damaged."""
    path = root / MANIFEST
    if not path.exists():
        raise ShardError(f"{path}: no manifest; is {root} a dataforge output directory?")
    try:
        return load_manifest(path)
    except ReportError as exc:
        raise ShardError(str(exc)) from exc
    except OSError as exc:
        raise ShardError(f"{path}: unreadable ({exc.strerror or exc})") from exc


def manifest_shards(root: Path, manifest: dict[str, Any], split: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """The shards a (checked) manifest lists, optionally one split: (path, entry)."""
    base = root / manifest.get("shard_dir", "shards")
    return [(base / e["path"], e) for e in manifest.get("shards", []) if split is None or e["split"] == split]


def locate(path: str | Path, split: str | None = None) -> ShardSet:
    """An output folder (its manifest's shards) or one shard file (its manifest, if any)."""
    path = Path(path)
    if path.is_dir():
        manifest = read_manifest(path)
        shards = manifest_shards(path, manifest, split)
        if not shards:
            raise ShardError(f"{path / MANIFEST}: lists no {split + ' ' if split else ''}shards")
        return ShardSet(path, manifest, shards)
    if not path.exists():
        raise ShardError(f"{path}: no such shard file or output directory")
    for root in (path.parent.parent, path.parent):  # <out>/shards/x.arrow, or a manifest beside it
        if (root / MANIFEST).exists():
            manifest = read_manifest(root)
            for listed, entry in manifest_shards(root, manifest):
                if listed.resolve() == path.resolve():
                    return ShardSet(root, manifest, [(path, entry)])
    view = open_checked(path)
    return ShardSet(None, None, [(path, {"path": path.name, "split": view.meta.get("split"),
                                         "rows": view.tokens.shape[0], "tokens": int(view.lengths.sum())})])


def open_checked(path: Path) -> ShardView:
    """``open_shard``, with anything a damaged file raises turned into a ShardError naming it
    (an Arrow file that is not a dataforge shard lacks metadata keys or columns)."""
    try:
        view = open_shard(path)
        view.lengths  # noqa: B018 - a column every reader here needs
        return view
    except ShardError:
        raise
    except Exception as exc:  # pyarrow, numpy and a missing key raise several types
        raise ShardError(f"{path}: not a dataforge shard ({type(exc).__name__}: {exc}); "
                         "rewrite it with `dataforge run` (or remove it from the manifest)") from exc


def load_tokenizer(shards: ShardSet) -> Any:
    """The run's tokenizer (``tokenizer.json`` beside the manifest), checked against the
    shard's recorded sha256; None when there is none to decode with."""
    if shards.root is None or shards.manifest is None:
        return None
    entry = shards.manifest.get("tokenizer") or {}
    path = shards.root / entry.get("file", "tokenizer.json")
    if not path.is_file():
        return None
    want = entry.get("sha256")
    if want and sha256_file(path) != want:
        raise ShardError(f"{path}: sha256 differs from the manifest's tokenizer {want[:12]}; "
                         "decoding with it would show the wrong text")
    try:
        return load_run_tokenizer(str(path))
    except Exception as exc:  # the tokenizers library raises a bare Exception for a file it cannot parse
        raise ShardError(f"{path}: not a tokenizer the `tokenizers` library can load ({exc}); "
                         "copy the tokenizer.json the shards were made with") from exc


def sample_rows(shards: ShardSet, n: int, seed: int) -> list[tuple[Path, int]]:
    """``n`` distinct (shard, row) picks, uniform over all rows, reproducible by ``seed``."""
    counts = [int(entry.get("rows", 0)) for _, entry in shards.shards]
    total = sum(counts)
    picks = sorted(random.Random(seed).sample(range(total), min(max(n, 0), total)))
    out = []
    for g in picks:
        for (path, _), rows in zip(shards.shards, counts):
            if g < rows:
                out.append((path, g))
                break
            g -= rows
    return out


def decode_rows(tokenizer: Any, picks: list[tuple[Path, int]]) -> list[Row]:
    """``decode_row`` for each pick, opening (and validating) each shard once."""
    views: dict[Path, ShardView] = {}
    out = []
    for path, row in picks:
        if path not in views:
            views[path] = open_checked(path)
        rows = views[path].tokens.shape[0]
        if row >= rows:
            raise ShardError(f"{path}: has {rows:,} rows but the manifest lists more; the shard and its "
                             "manifest entry do not match")
        try:
            out.append(decode_row(tokenizer, views[path], row))
        except ShardError:
            raise
        except Exception as exc:  # a tokenizer that cannot decode these ids, a damaged column
            raise ShardError(f"{path}: row {row} cannot be decoded ({type(exc).__name__}: {exc})") from exc
    return out


def decode_row(tokenizer: Any, view: ShardView, row: int) -> Row:
    """One row cut at document starts (or SFT mask changes) and decoded, specials shown."""
    path = view.path
    ids = view.tokens[row]
    length = int(view.lengths[row])
    mask = view.loss_mask
    cuts: list[tuple[int, str]]
    if mask is not None:
        m = mask[row][:length]
        cuts = [(i, "target" if m[i] else "prompt") for i in range(length) if i == 0 or m[i] != m[i - 1]]
    else:
        cuts = [(int(s), "document") for s in view.doc_starts[row] if s < length]
        if not cuts or cuts[0][0] != 0:
            cuts.insert(0, (0, "continued"))  # the row starts inside a document begun in an earlier row
    out = Row(shard=path.name, row=row, length=length, seq_len=view.seq_len)
    for (start, kind), nxt in zip(cuts, [c[0] for c in cuts[1:]] + [length]):
        piece = [int(t) for t in ids[start:nxt]]
        if tokenizer is not None:
            text = tokenizer.decode(piece, skip_special_tokens=False)
        else:
            text = " ".join(map(str, piece))
        out.segments.append(Segment(kind, len(piece), text))
    return out


def summary(shards: ShardSet) -> dict[str, Any]:
    """What the manifest (or a lone shard's metadata) says, for the header of ``inspect``."""
    m = shards.manifest or {}
    if not m:
        view = open_checked(shards.shards[0][0])
        m = {k: view.meta.get(k) for k in ("kind", "dtype", "vocab_size", "seq_len", "packing", "eos_id")}
    per_split: dict[str, dict[str, int]] = {}
    for _, e in shards.shards:
        s = per_split.setdefault(str(e.get("split")), {"shards": 0, "rows": 0, "tokens": 0})
        s["shards"] += 1
        s["rows"] += int(e.get("rows", 0))
        s["tokens"] += int(e.get("tokens", 0))
    return {
        "name": m.get("name"), "kind": m.get("kind"), "dtype": m.get("dtype"), "vocab_size": m.get("vocab_size"),
        "seq_len": m.get("seq_len"), "packing": m.get("packing"), "eos_id": m.get("eos_id"),
        "config_hash": m.get("config_hash"), "seed": m.get("seed"),
        "tokenizer_sha256": (m.get("tokenizer") or {}).get("sha256"),
        "splits": per_split,
        "sources": {k: v.get("tokens_realised") for k, v in (m.get("sources") or {}).items()},
    }


def to_json(info: dict[str, Any], rows: list[Row]) -> str:
    """``inspect --json``: controls in decoded text are escaped (``safe_json``)."""
    return safe_json({**info, "samples": [
        {"shard": r.shard, "row": r.row, "length": r.length,
         "segments": [{"kind": s.kind, "tokens": s.tokens, "text": s.text} for s in r.segments]} for r in rows]})
