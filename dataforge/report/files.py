"""The files a run leaves behind, read defensively: a damaged file is an error naming it.

``report``, ``inspect``, ``stats`` and ``why`` read ``manifest.json``, ``stats.json`` and
``logs/last_run.json`` of an output that may have been cut short by a full disk, edited
by hand or written by another version. Each file is checked against the shape the read
side relies on (strict types: ``"10"`` is not a number, ``true`` is not a count, NaN is
not a count) before any of it is used, so a bad file gives one message naming the file
and the key, never a traceback from deep inside a section.

The models list only the keys the read side uses; other keys are allowed (writers add
their own).
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ..errors import DataforgeError


class ReportError(DataforgeError):
    """The folder is not a dataforge output, or one of its files is unreadable."""


class _Checked(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)


class ShardEntry(_Checked):
    path: str
    split: str
    rows: int = Field(ge=0)
    tokens: int = Field(ge=0)
    sha256: str | None = None

    @field_validator("path")
    @classmethod
    def _inside(cls, v: str) -> str:
        """A shard lives under the output's shard folder: no absolute path, no '..'."""
        p = PurePosixPath(v)
        if not v or p.is_absolute() or ".." in p.parts or "\\" in v:
            raise ValueError(f"shard path {v!r} must be a file name under the shard folder")
        return v


class TokenizerEntry(_Checked):
    file: str = "tokenizer.json"
    sha256: str | None = None


class SourceEntry(_Checked):
    tokens_realised: float = Field(0, ge=0)
    validation_tokens: float = Field(0, ge=0)
    tokens_available: float = Field(0, ge=0)
    tokens_target: float = Field(0, ge=0)
    share: float = Field(0, ge=0)
    epochs: float = Field(0, ge=0)


class InputEntry(_Checked):
    path: str
    source: str
    bytes: int = Field(ge=0)
    version: str


class Manifest(_Checked):
    """What the read side uses of ``manifest.json``."""

    name: str | None = None
    kind: str | None = None
    dtype: str | None = None
    vocab_size: int | None = None
    seq_len: int | None = Field(None, ge=1)
    packing: str | None = None
    eos_id: int | None = None
    config_hash: str | None = None
    seed: int | None = None
    validation_fraction: float | None = Field(None, ge=0, le=1)
    shard_dir: str = "shards"
    tokenizer: TokenizerEntry | None = None
    shards: list[ShardEntry] = []
    sources: dict[str, SourceEntry] = {}
    tokens: dict[str, int] = {}
    inputs: list[InputEntry] = []
    pipeline: dict[str, Any] | None = None
    runs: list[Any] | None = None
    warnings: list[str] = []
    versions: dict[str, str] = {}

    @field_validator("shard_dir")
    @classmethod
    def _relative(cls, v: str) -> str:
        p = PurePosixPath(v)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(f"shard_dir {v!r} must be a folder inside the output")
        return v


class StageRow(_Checked):
    label: str
    name: str
    kind: str
    folder: str
    sources: list[str] | None = None


class LanguageLoss(_Checked):
    stage: str
    lang: str
    docs_in: int = Field(ge=0)
    kept: int = Field(ge=0)
    dropped_share: float = Field(ge=0, le=1)


class StatsFile(_Checked):
    """``stats.json`` of format 2 (format 1 is the counts alone)."""

    format: int
    stages: list[StageRow] = []
    language_losses: list[LanguageLoss] = []
    counts: dict[str, dict[str, dict[str, float]]]


class LastRun(_Checked):
    status: str | None = None
    seconds: float | None = None
    finished: str | None = None
    config_hash: str | None = None
    warnings: list[str] = []
    pipeline: dict[str, Any] | None = None


_COUNTS = TypeAdapter(dict[str, dict[str, dict[str, float]]], config=ConfigDict(strict=True, allow_inf_nan=False))


def read_json(path: Path) -> Any:
    """The JSON value in ``path``; ReportError naming the file when it is not JSON."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); the file is damaged") from exc
    if not text.strip():
        raise ReportError(f"{path}: empty file (a run cut short?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (the file looks cut short)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise ReportError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}){cut}") from exc
    except RecursionError as exc:
        raise ReportError(f"{path}: JSON nested too deeply to read") from exc


def problem(path: Path, exc: ValidationError, what: str) -> str:
    """A validation error as one line: file, key path, what is wrong (first three)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = _loc(err["loc"])
        got = err.get("input")
        shown = "" if err["type"] == "missing" else f" (got {_short(got)})"
        parts.append(f"{loc or '(top level)'}: {_msg(err)}{shown}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return f"{path}: not a dataforge {what}: " + "; ".join(parts) + more


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


def _msg(err: Any) -> str:
    if err["type"] == "missing":
        return "missing"
    msg = str(err["msg"]).removeprefix("Value error, ")  # a validator's own message needs no prefix
    return msg[0].lower() + msg[1:] if msg else msg


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _object(path: Path, data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")
        raise ReportError(f"{path}: not a dataforge {what}: expected a JSON object, got {kind}")
    return data


def _checked(path: Path, what: str, check: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The JSON object in ``path`` after ``check`` (a model's validation) accepted it."""
    data = _object(path, read_json(path), what)
    try:
        check(data)
    except ValidationError as exc:
        raise ReportError(problem(path, exc, what)) from exc
    return data


def load_manifest(path: Path) -> dict[str, Any]:
    """``manifest.json``, checked (the raw dict: writers' own keys stay)."""
    return _checked(path, "manifest", Manifest.model_validate)


def _stats_shape(data: dict[str, Any]) -> None:
    if "format" in data or "stages" in data:
        StatsFile.model_validate(data)
    else:
        _COUNTS.validate_python(data)


def load_stats_json(path: Path) -> dict[str, Any]:
    """``stats.json`` checked: format 2 (``{format, stages, counts}``) or 1 (the counts)."""
    return _checked(path, "stats file", _stats_shape)


def load_last_run(path: Path) -> dict[str, Any]:
    """``logs/last_run.json``, checked."""
    return _checked(path, "run summary", LastRun.model_validate)


# ---- text that must not reach a terminal raw ------------------------------------------
#: C0 controls but tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates,
#: and lone surrogates (undecodable input): what JSON output escapes as \\uXXXX
UNSAFE_IN_JSON = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_json(value: Any, *, indent: int | None = 1) -> str:
    """JSON with every terminal control escaped as ``\\uXXXX``: the same value when parsed,
    but no C1 control or bidi override reaches a terminal when it is printed."""
    text = json.dumps(value, indent=indent, ensure_ascii=False, default=str)
    return UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
