"""Benchmark references for ``decontaminate``: reading them, their n-gram hashes, and the
index file every task of a run shares.

**Words.** Text is normalised as datatrove's ``simplify_text`` does before its n-gram
lookups: lowercase, every run of digits -> ``0``, diacritics removed (NFD, combining
marks dropped), punctuation and symbols are separators; a word is a run of letters and
digits (``[^\\W_]+``), except that every Chinese character and Japanese kana is a word of its
own: those scripts have no spaces, so a "word" run would be a whole clause and no 13-gram
would ever match (issue 19; character n-grams are how Chinese benchmarks are usually
decontaminated). Korean keeps its spaces; Thai, whose letters are not words, is left as
runs. References and documents go through the same function.

**Hashes.** Each word gets xxh3-64; an n-gram's key is the polynomial
``sum(w[i+j] * P**(n-1-j)) mod 2**64`` of its word hashes, so a document's keys of every
length up to ``ngram`` come out of one vectorised pass (the keys of length L+1 are the
keys of length L times P plus the next word). Keys of different lengths are kept apart.

**Index.** One folder per content (the format, the options that change keys, each
reference file's SHA-256 and fields), under ``<work_dir>/decontaminate/<digest>/``:
per length ``keys_LL.npy`` (sorted uint64) and ``items_LL.npy`` (uint32, the item each key
came from; the first item when several share a key), ``items.json`` (benchmark and id of
each item). The first task that needs it builds it under an exclusive ``flock`` and
renames it into place; every other task (and a rerun) finds it and memory-maps it. We
chose this over building in the driver's config check because the check has no run
folder and must stay cheap; the build is a few seconds at most (10 sets of ~1,000 items:
well under one), paid once per run and content.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from pydantic import Field, field_validator

from ..errors import DataforgeError
from ..io import fsync_dir, sha256_file
from ..paths import AbsolutePath
from ..stage import Params

INDEX_VERSION = 5  # 4: Chinese characters and kana are words of their own; 5: bitmaps
# odd 64-bit multiplier of the polynomial n-gram key (any odd constant; this is 2^64 / golden ratio)
_P = np.uint64(0x9E3779B97F4A7C15)
_WORD = re.compile(r"[^\W_]+")
# Han (CJK ideographs, extension A, compatibility) and kana: one character, one word
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_HAS_CJK = re.compile(rf"[{_CJK}]")
_DIGITS = re.compile(r"\d+")
_ANY_DIGIT = re.compile(r"\d")
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_FIELD = re.compile(r"^([^\[\]+]+)(?:\[([^\[\]+]+)\])?$")


class ReferenceFileError(DataforgeError):
    """A reference file cannot be read or has no usable text; ``key`` is the option to fix."""

    def __init__(self, message: str, *, key: str = "path") -> None:
        super().__init__(message)
        self.key = key


class Reference(Params):
    """One benchmark: a JSONL file of test items."""

    # the name in stats.json and the contamination table, e.g. arc_challenge
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # JSONL file, one test item per line (relative to the working directory)
    path: AbsolutePath
    # the text of an item: each entry is one segment; "a+b" joins fields into one segment,
    # "choices[gold]" takes list `choices` at the index in field `gold`, a list of strings is
    # joined with spaces. null = every string (or list of strings) field, one segment each
    fields: list[str] | None = None
    # the field holding the item's id; null = its line number in the file
    id_field: str | None = None

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("give at least one field, e.g. [query+choices[gold]], or leave fields out")
            for spec in v:
                for part in spec.split("+"):
                    if not _FIELD.match(part.strip()):
                        raise ValueError(f"field {spec!r}: write names joined by '+', optionally name[index_field]")
        return v


def _words_re(text: str) -> re.Pattern[str]:
    """The word pattern for ``text``: the plain one unless it holds Chinese or Japanese."""
    return _CJK_WORD if not text.isascii() and _HAS_CJK.search(text) else _WORD


def simplified(text: str) -> str:
    """The words of ``text`` joined by single spaces (see the module docstring)."""
    joined = " ".join(_words_re(text).findall(text.lower()))
    if not joined.isascii():
        joined = _MARKS.sub("", unicodedata.normalize("NFD", joined))
    if _ANY_DIGIT.search(joined):
        joined = _DIGITS.sub("0", joined)
    return joined


def normalized_words(text: str) -> list[str]:
    """The words n-grams are made of."""
    joined = simplified(text)
    return joined.split(" ") if joined else []


def _ascii_table() -> bytes:
    """Byte translation for the fast path: ASCII letters lowered, ASCII digits -> ``0``, every
    other ASCII byte (punctuation, ``_``, controls) -> space; bytes >= 128 kept as they are."""
    table = bytearray(range(256))
    for c in range(128):
        ch = chr(c)
        table[c] = ord("0") if ch.isdigit() else ord(ch.lower()) if ch.isalnum() else ord(" ")
    return bytes(table)


_TABLE = _ascii_table()
_ZEROS = re.compile(rb"0{2,}")
# the non-ASCII separators web text uses most (curly quotes, dashes, ellipsis, bullets, no-break
# space, currency and marks: the 1,000-document web sample's top ones); none is a letter or
# digit, so a space in their place changes no word, and most pages become ASCII
_COMMON_SEPARATORS = ("\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00a0\u2022\u00b7\u00ae\u00a9\u2122\u00ab"
                      "\u00bb\u201e\u200b\u2032\u2033\u00b0\u00a3\u20ac\u00a7\ufffd\u203a\u2039\u2192\u00a1\u00bf")


def normalized_word_bytes(text: str) -> list[bytes]:
    """``normalized_words(text)`` as UTF-8 bytes: 3.4x faster on the web sample (15x on ASCII).

    Every ASCII character that is not a letter or digit separates words in ``simplified`` too,
    and lowering, the digit rule and mark stripping act within a word, so the text is split at
    those bytes by one ``bytes.translate``; only the pieces holding a non-ASCII byte (a curly
    quote, an accented or CJK letter) go through ``normalized_words`` themselves. The two
    paths agree on every input (tests/filters/test_decontaminate.py checks it on the bundled
    languages and on hostile strings)."""
    if not text.isascii():
        for ch in _COMMON_SEPARATORS:
            if ch in text:
                text = text.replace(ch, " ")
    raw = text.encode("utf-8", "surrogatepass").translate(_TABLE)
    if b"00" in raw:
        raw = _ZEROS.sub(b"0", raw)  # a run of digits is one 0; real zeros are digits too
    pieces = raw.split()
    if text.isascii():
        return pieces
    out: list[bytes] = []
    for piece in pieces:
        if piece.isascii():
            out.append(piece)
        else:
            out.extend(w.encode("utf-8", "surrogatepass")
                       for w in normalized_words(piece.decode("utf-8", "surrogatepass")))
    return out


def text_word_hashes(text: str) -> np.ndarray:
    """``word_hashes(normalized_words(text))``, through the fast path."""
    raw = normalized_word_bytes(text)
    if not raw:
        return np.empty(0, dtype=np.uint64)
    return np.fromiter(map(xxhash.xxh3_64_intdigest, raw), dtype=np.uint64, count=len(raw))


def word_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """``normalized_words`` with each word's character span in ``text`` (for redaction)."""
    words, spans = [], []
    for m in _words_re(text).finditer(text):
        w = normalized_words(m.group())
        if w:
            words.extend(w)
            spans.extend([m.span()] * len(w))
    return words, spans


def word_hashes(words: list[str]) -> np.ndarray:
    """xxh3-64 of each word's UTF-8 (encoded in one call: words never hold a space)."""
    if not words:
        return np.empty(0, dtype=np.uint64)
    raw = " ".join(words).encode("utf-8", "surrogatepass").split(b" ")
    return np.fromiter(map(xxhash.xxh3_64_intdigest, raw), dtype=np.uint64, count=len(raw))


def ngram_keys(wh: np.ndarray, lengths: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(L, keys of every L-gram of the words, in position order) for each L in ``lengths``."""
    if not len(wh) or not lengths:
        return
    top = max(lengths)
    want = set(lengths)
    h = wh.copy()
    with np.errstate(over="ignore"):
        for n in range(1, min(top, len(wh)) + 1):
            if n > 1:
                h = h[:-1] * _P + wh[n - 1:]
            if n in want:
                yield n, h


# ---- reading references -------------------------------------------------------------------
def _value(rec: dict[str, Any], part: str) -> str | None:
    m = _FIELD.match(part.strip())
    assert m is not None  # checked by Reference
    name, index = m.group(1), m.group(2)
    v = rec.get(name)
    if index is not None:
        i = rec.get(index)
        if not isinstance(v, list) or not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(v):
            return None
        v = v[i]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return " ".join(v)
    return v if isinstance(v, str) else None


def segments(rec: dict[str, Any], fields: list[str] | None) -> list[str] | None:
    """The item's text segments, or None when a named field is missing or not text."""
    if fields is None:
        return [s for s in (_value(rec, k) for k in rec if k and "+" not in k and "[" not in k) if s]
    out = []
    for spec in fields:
        parts = [_value(rec, p) for p in spec.split("+")]
        if any(p is None for p in parts):
            return None
        out.append(" ".join(p for p in parts if p))
    return out


@dataclass
class Item:
    benchmark: str
    id: str
    segments: list[str]


def read_items(ref: Reference) -> Iterator[Item]:
    """Items of one reference file; raises ``ReferenceFileError`` naming file:line for a bad record."""
    try:
        fh = open(ref.path, encoding="utf-8")
    except OSError as exc:
        raise ReferenceFileError(f"{ref.path}: cannot read ({exc.strerror}); fix references[{ref.name}].path") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:  # json.JSONDecodeError, or a UnicodeDecodeError of the line
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise ReferenceFileError(f"{ref.path}:{lineno}: not JSON ({why}); fix or remove the line") from None
            if not isinstance(rec, dict):
                raise ReferenceFileError(f"{ref.path}:{lineno}: a JSON object per line expected")
            segs = segments(rec, ref.fields)
            if segs is None:
                raise ReferenceFileError(f"{ref.path}:{lineno}: fields {ref.fields} not all present as text; "
                                         f"the record has {sorted(rec)}", key="fields")
            item_id = rec.get(ref.id_field) if ref.id_field else lineno
            if item_id is None:
                raise ReferenceFileError(f"{ref.path}:{lineno}: no id field {ref.id_field!r}", key="id_field")
            yield Item(ref.name, str(item_id), segs)


def check_references(refs: list[Reference]) -> list[tuple[str, str]]:
    """Problems with the reference files, for the config check (every file read once)."""
    problems: list[tuple[str, str]] = []
    names = [r.name for r in refs]
    for i, ref in enumerate(refs):
        if names.index(ref.name) != i:
            problems.append((f"references.{i}.name", f"{ref.name!r} is used twice; give each benchmark its own name"))
        try:
            if not sum(1 for _ in read_items(ref)):  # read every line: a bad one anywhere is reported
                problems.append((f"references.{i}.path", f"{ref.path}: no items"))
        except ReferenceFileError as exc:
            problems.append((f"references.{i}.{exc.key}", str(exc)))
    return problems


# ---- the shared index ---------------------------------------------------------------------
def lengths_for(ngram: int, min_ngram: int) -> list[int]:
    return list(range(min(min_ngram, ngram), ngram + 1))


def item_keys(segs: list[str], ngram: int, min_ngram: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """An item's keys as (length, keys, keys of their first ``min_ngram`` words): every
    ``ngram``-gram of each segment; a segment with fewer words but at least ``min_ngram``
    is one key of its own length; shorter segments give none.

    N-grams that are mostly numbers (more than half their words are digit runs) are left
    out: a reference item holding a list of numbers otherwise matches every page with a
    table (our choice; 2 of 1,000 clean web documents in bench_operators.py did)."""
    for seg in segs:
        ws = normalized_words(seg)
        n = len(ws)
        length = ngram if n >= ngram else n
        if n < min_ngram:
            continue
        got = dict(ngram_keys(word_hashes(ws), sorted({min_ngram, length})))
        keys = got[length]
        numeric = np.cumsum([0] + [w == "0" for w in ws])
        wordy = (numeric[length:] - numeric[:-length])[: len(keys)] * 2 <= length
        yield length, keys[wordy].copy(), got[min_ngram][: len(keys)][wordy].copy()


def digest(refs: list[Reference], ngram: int, min_ngram: int) -> str:
    h = hashlib.sha256(json.dumps({"v": INDEX_VERSION, "ngram": ngram, "min_ngram": min_ngram}).encode())
    for ref in refs:
        h.update(json.dumps([ref.name, ref.fields, ref.id_field]).encode())
        h.update(sha256_file(ref.path).encode())
    return h.hexdigest()[:24]


def build(folder: Path, refs: list[Reference], ngram: int, min_ngram: int) -> None:
    """Write the index into ``folder`` (which must not exist yet)."""
    items: list[list[str]] = []
    per_len: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    prefixes: list[np.ndarray] = []
    short: dict[str, int] = {}
    for ref in refs:
        for item in read_items(ref):
            idx = len(items)
            items.append([item.benchmark, item.id])
            got = False
            for n, keys, prefix in item_keys(item.segments, ngram, min_ngram):
                if not len(keys):
                    continue
                prefixes.append(prefix)
                ks, its = per_len.setdefault(n, ([], []))
                ks.append(keys)
                its.append(np.full(len(keys), idx, dtype=np.uint32))
                got = True
            if not got:
                short[item.benchmark] = short.get(item.benchmark, 0) + 1
    folder.mkdir(parents=True)
    lengths, kept = [], []
    for n, (ks, its) in sorted(per_len.items()):
        k, it = np.concatenate(ks), np.concatenate(its)
        order = np.lexsort((it, k))
        k, it = k[order], it[order]
        first = np.ones(len(k), dtype=bool)
        first[1:] = k[1:] != k[:-1]  # one entry per key: the first item that has it
        np.save(folder / f"keys_{n:02d}.npy", k[first])
        np.save(folder / f"items_{n:02d}.npy", it[first])
        lengths.append(n)
        kept.append(k[first])
    prefix = np.unique(np.concatenate(prefixes)) if prefixes else np.empty(0, np.uint64)
    np.save(folder / "prefix.npy", prefix)
    np.save(folder / "prefix_bits.npy", bitmap(prefix))
    np.save(folder / "key_bits.npy", bitmap(np.concatenate(kept) if kept else np.empty(0, np.uint64)))
    meta = {"version": INDEX_VERSION, "ngram": ngram, "min_ngram": min_ngram, "lengths": lengths, "items": items,
            "unindexed_items": short, "benchmarks": [r.name for r in refs]}
    (folder / "items.json").write_text(json.dumps(meta), encoding="utf-8")


#: bits per key in a bitmap (a power of two at least this): a clean key passes with p ~ 1/64
_BITS_PER_KEY = 64
_MIN_BITS, _MAX_BITS = 2**16, 2**30  # 8 KiB .. 128 MiB


def bitmap(keys: np.ndarray) -> np.ndarray:
    """Packed bits, set at each key's top ``log2(len * 8)`` bits (see ``may_hold``)."""
    bits = _MIN_BITS
    while bits < len(keys) * _BITS_PER_KEY and bits < _MAX_BITS:
        bits *= 2
    mark = np.zeros(bits, dtype=bool)
    mark[keys >> np.uint64(64 - bits.bit_length() + 1)] = True
    return np.packbits(mark, bitorder="little")


def may_hold(bits: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Mask of ``keys`` whose bit is set: False means surely absent."""
    top = (keys >> np.uint64(64 - (len(bits) * 8).bit_length() + 1)).astype(np.intp)
    return ((bits[top >> 3] >> (top & 7).astype(np.uint8)) & 1).astype(bool)


def _member(index: np.ndarray, keys: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask of ``keys`` found in sorted ``index``, their positions there); ``bits`` (the
    bitmap of ``index`` or of a superset) clears most keys before the binary search."""
    found = np.zeros(len(keys), dtype=bool)
    pos = np.zeros(len(keys), dtype=np.int64)
    if not len(index) or not len(keys):
        return found, pos
    cand = np.flatnonzero(may_hold(bits, keys))
    if not len(cand):
        return found, pos
    at = np.searchsorted(index, keys[cand])
    at[at == len(index)] = 0
    hit = index[at] == keys[cand]
    found[cand[hit]] = True
    pos[cand[hit]] = at[hit]
    return found, pos


@dataclass
class Index:
    """A loaded index (memory-mapped): per length, sorted keys and the item of each; and
    the sorted keys of every indexed n-gram's first ``min_ngram`` words (``prefix``).

    A document is first checked against ``prefix`` with its ``min_ngram``-grams only (one
    lookup per word); only a document with a prefix hit computes its longer n-grams."""

    keys: dict[int, np.ndarray]
    items: dict[int, np.ndarray]
    prefix: np.ndarray
    prefix_len: int  # words in a prefix key (the index's min_ngram)
    prefix_bits: np.ndarray  # bitmap of prefix
    key_bits: np.ndarray  # bitmap of every length's keys
    item_names: list[list[str]]  # item number -> [benchmark, id]
    unindexed: dict[str, int]  # benchmark -> items too short to index

    @property
    def lengths(self) -> list[int]:
        return sorted(self.keys)

    def _matches(self, wh: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(length, word positions, item numbers) of the document's n-grams in the index."""
        if not self.keys or len(wh) < self.lengths[0]:
            return
        (_, first), = ngram_keys(wh, [self.prefix_len])
        if not _member(self.prefix, first, self.prefix_bits)[0].any():
            return
        for n, keys in ngram_keys(wh, self.lengths):
            found, pos = _member(self.keys[n], keys, self.key_bits)
            if found.any():
                yield n, np.flatnonzero(found), self.items[n][pos[found]]

    def lookup(self, wh: np.ndarray) -> np.ndarray:
        """Item numbers hit by the document's n-grams (with repeats; empty when clean)."""
        hits = [items for _, _, items in self._matches(wh)]
        return np.concatenate(hits) if hits else np.empty(0, dtype=np.uint32)

    def matched_spans(self, wh: np.ndarray) -> list[tuple[int, int]]:
        """Word ranges [start, end) of the document's n-grams found in the index."""
        return sorted((int(i), int(i) + n) for n, where, _ in self._matches(wh) for i in where)


def load(folder: Path) -> Index:
    meta = json.loads((folder / "items.json").read_text(encoding="utf-8"))
    keys = {n: np.asarray(np.load(folder / f"keys_{n:02d}.npy", mmap_mode="r")) for n in meta["lengths"]}
    items = {n: np.asarray(np.load(folder / f"items_{n:02d}.npy", mmap_mode="r")) for n in meta["lengths"]}
    prefix = np.asarray(np.load(folder / "prefix.npy", mmap_mode="r"))
    prefix_bits = np.asarray(np.load(folder / "prefix_bits.npy", mmap_mode="r"))
    key_bits = np.asarray(np.load(folder / "key_bits.npy", mmap_mode="r"))
    return Index(keys, items, prefix, meta["min_ngram"], prefix_bits, key_bits, meta["items"], meta["unindexed_items"])


def shared_index(work_dir: Path, refs: list[Reference], ngram: int, min_ngram: int) -> tuple[Index, Path]:
    """The run's index for these references: built by the first caller, memory-mapped by all."""
    root = work_dir / "decontaminate"
    root.mkdir(parents=True, exist_ok=True)
    folder = root / digest(refs, ngram, min_ngram)
    if not (folder / "items.json").exists():
        with open(root / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not (folder / "items.json").exists():  # another task may have built it meanwhile
                    tmp = root / f".tmp-{folder.name}-{os.getpid()}"
                    shutil.rmtree(tmp, ignore_errors=True)
                    build(tmp, refs, ngram, min_ngram)
                    shutil.rmtree(folder, ignore_errors=True)  # a half-renamed leftover has no items.json
                    tmp.rename(folder)
                    fsync_dir(root)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return load(folder), folder
