"""Shards are verified against their manifest before a run trains on them (and again on resume).

What is checked, for every shard the manifest lists:

* the entry is well-formed (path, split, rows, tokens, sha256) and its path stays inside the
  output folder; no path is listed twice;
* ``verify: sha256`` (default): the file's sha256 equals the manifest's, so a flipped byte or
  two swapped shards are refused. ``verify: quick``: the Arrow header is read instead, and
  only what it declares is compared (for data too big to hash at every start);
* always: the shard's own metadata (kind, seq_len, vocab_size, dtype, packing, eos_id,
  tokenizer hash, split) equals the manifest's, its row count and token count equal the
  entry's, its tokens have the manifest's dtype and fit the vocabulary (``open_shard``).

The manifest's tokenizer must be a file inside the output whose sha256 is the manifest's.
The fingerprint a checkpoint keeps is a hash of all of this (names, splits, counts, sizes and
content hashes), so a resume sees the same files, not only the same list.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import sha256_file
from ..tokenize.shards import MANIFEST, ShardView, open_shard, read_manifest, token_dtype
from .config import TrainError

_SHA = re.compile(r"^[0-9a-f]{64}$")
#: manifest keys every shard's metadata must repeat
SHARED_KEYS = ("kind", "seq_len", "vocab_size", "dtype", "packing", "eos_id")


@dataclass
class VerifiedShards:
    manifest: dict[str, Any]
    views: dict[str, list[ShardView]]  # split -> memory-mapped shards, in manifest order
    fingerprint: str
    tokenizer: Path | None  # the output's tokenizer file, checked against the manifest's hash


def inside(root: Path, rel: object, *, what: str, where: str) -> Path:
    """``root / rel`` if ``rel`` is a relative path that stays inside ``root`` (symlinks resolved)."""
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute():
        raise TrainError(f"{where}: {what} {rel!r} must be a path relative to the output folder")
    path = root / rel
    if not path.resolve().is_relative_to(root.resolve()):
        raise TrainError(f"{where}: {what} {rel!r} points outside {root}; a manifest may only name its own files")
    return path


def _int(manifest: dict[str, Any], key: str, where: str, *, low: int) -> int:
    value = manifest.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise TrainError(f"{where}: {key} is {value!r}; expected an integer >= {low}. Rewrite the output with dataforge")
    return value


def check_manifest(manifest: Any, where: str) -> dict[str, Any]:
    """The manifest's own keys: types, ranges, and a dtype that matches the vocabulary (DESIGN.md section 4)."""
    if not isinstance(manifest, dict):
        raise TrainError(f"{where}: expected a JSON object, got {type(manifest).__name__}")
    if manifest.get("kind") not in ("pretrain", "sft"):
        raise TrainError(f"{where}: kind is {manifest.get('kind')!r}; expected pretrain or sft")
    if manifest.get("packing") not in ("concat", "pad"):
        raise TrainError(f"{where}: packing is {manifest.get('packing')!r}; expected concat or pad")
    _int(manifest, "seq_len", where, low=2)
    vocab = _int(manifest, "vocab_size", where, low=1)
    eos = _int(manifest, "eos_id", where, low=0)
    if eos >= vocab:
        raise TrainError(f"{where}: eos_id {eos} is not below vocab_size {vocab}")
    if manifest.get("dtype") != token_dtype(vocab).name:
        raise TrainError(f"{where}: dtype {manifest.get('dtype')!r} for a {vocab}-token vocabulary; "
                         f"it must be {token_dtype(vocab).name} (uint16 only when every id fits)")
    if not isinstance(manifest.get("shards"), list):
        raise TrainError(f"{where}: no shards list")
    return manifest


def _entry(raw: Any, index: int, where: str) -> dict[str, Any]:
    at = f"{where}: shards[{index}]"
    if not isinstance(raw, dict):
        raise TrainError(f"{at}: expected an object with path, split, rows, tokens, sha256")
    for key in ("rows", "tokens"):
        if not isinstance(raw.get(key), int) or isinstance(raw.get(key), bool) or raw[key] < 0:
            raise TrainError(f"{at}: {key} is {raw.get(key)!r}; expected a count")
    if not isinstance(raw.get("split"), str):
        raise TrainError(f"{at}: split is {raw.get('split')!r}")
    if not isinstance(raw.get("sha256"), str) or not _SHA.match(raw["sha256"]):
        raise TrainError(f"{at}: sha256 is {raw.get('sha256')!r}; expected 64 hex digits")
    return raw


def _check_view(view: ShardView, entry: dict[str, Any], manifest: dict[str, Any], path: Path) -> None:
    meta = view.meta
    expected = {key: str(manifest[key]) for key in SHARED_KEYS}
    expected["split"] = entry["split"]
    tok = manifest.get("tokenizer")
    if isinstance(tok, dict) and "sha256" in tok:
        expected["tokenizer_sha256"] = str(tok["sha256"])
    for key, want in expected.items():
        if meta.get(key) != want:
            raise TrainError(f"{path}: {key} is {meta.get(key)!r} in the shard but {want!r} in the manifest; "
                             "the shard belongs to another output: rewrite the output")
    if view.table.num_rows != entry["rows"]:
        raise TrainError(f"{path}: {view.table.num_rows} rows, the manifest says {entry['rows']}")
    tokens = int(view.lengths.sum())
    if tokens != entry["tokens"]:
        raise TrainError(f"{path}: {tokens} tokens, the manifest says {entry['tokens']}")
    if view.lengths.size and int(view.lengths.max()) > view.seq_len:
        raise TrainError(f"{path}: a row claims {int(view.lengths.max())} tokens in a {view.seq_len}-token row")
    if (manifest["kind"] == "sft") != (view.loss_mask is not None):
        raise TrainError(f"{path}: an {manifest['kind']} shard {'without' if manifest['kind'] == 'sft' else 'with'} "
                         "a loss_mask column; rewrite it with dataforge")


def verify_shards(out_dir: Path, *, full_hash: bool = True) -> VerifiedShards:
    """Check every shard of ``out_dir`` against its manifest; memory-map them. Raises TrainError naming the file."""
    out_dir = Path(out_dir)
    where = str(out_dir / MANIFEST)
    manifest = check_manifest(read_manifest(out_dir), where)
    base = inside(out_dir, manifest.get("shard_dir", "shards"), what="shard_dir", where=where)
    seen: dict[Path, int] = {}
    views: dict[str, list[ShardView]] = {}
    listing = []
    for index, raw in enumerate(manifest["shards"]):
        entry = _entry(raw, index, where)
        path = inside(base, entry.get("path"), what=f"shards[{index}].path", where=where)
        key = path.resolve()
        if key in seen:
            raise TrainError(f"{where}: shards[{index}] lists {entry['path']} again (first as shards[{seen[key]}]); "
                             "a shard is listed once: rewrite the manifest")
        seen[key] = index
        if not path.is_file():
            raise TrainError(f"{path}: listed in {where} but missing; rewrite the output (dataforge run)")
        if full_hash and sha256_file(path) != entry["sha256"]:
            raise TrainError(f"{path}: its sha256 is not the manifest's; the file changed after it was written "
                             "(damaged, or swapped with another shard): rewrite the output")
        view = open_shard(path)
        _check_view(view, entry, manifest, path)
        views.setdefault(entry["split"], []).append(view)
        listing.append((entry["path"], entry["split"], entry["rows"], entry["tokens"], entry["sha256"],
                        path.stat().st_size))
    tokenizer = _tokenizer(out_dir, manifest, where)
    core = {k: manifest[k] for k in SHARED_KEYS}
    blob = json.dumps({"core": core, "shards": sorted(listing)}, sort_keys=True).encode()
    return VerifiedShards(manifest=manifest, views=views, fingerprint=hashlib.sha256(blob).hexdigest(),
                          tokenizer=tokenizer)


def _tokenizer(out_dir: Path, manifest: dict[str, Any], where: str) -> Path | None:
    tok = manifest.get("tokenizer")
    if tok is None:
        return None
    if not isinstance(tok, dict):
        raise TrainError(f"{where}: tokenizer is {tok!r}; expected {{file, sha256}}")
    path = inside(out_dir, tok.get("file", "tokenizer.json"), what="tokenizer.file", where=where)
    if not path.is_file():
        return None
    if "sha256" in tok and sha256_file(path) != tok["sha256"]:
        raise TrainError(f"{path}: its sha256 is not the manifest's tokenizer.sha256; the shards were made with "
                         "another tokenizer than this file: rewrite the output")
    return path
