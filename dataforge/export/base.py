"""What every format shares: the options, the writer interface and a split's result."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..stage import Params
from .source import Source
from .staging import Staging

Format = Literal["megatron", "nanogpt", "nanogpt-raw", "hf"]
#: (split, shards done, shards in the split): called after each shard
Progress = Callable[[str, int, int], None]
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ExportParams(Params):
    format: Format
    # splits to export; None = every split the output has (train, then validation)
    splits: tuple[Literal["train", "validation"], ...] | None = None
    # name prefix (``<prefix>_train.bin``; for hf the dataset folder); None = the format's own names
    prefix: str | None = None
    # nanogpt (llm.c) only: at most this many tokens per file (llm.c's fineweb.py writes 1e8-token
    # shards); None = one file per split. llm.c's header counts tokens in an int32, hence < 2**31
    file_tokens: int | None = Field(None, ge=1, lt=2**31)
    # input check, as ``dataforge train --verify``: sha256 of every shard, or headers and counts only
    verify: Literal["sha256", "quick"] = "sha256"

    @field_validator("prefix")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and not _PREFIX.match(value):
            raise ValueError(f"prefix {value!r} must be a plain file name: letters, digits, '.', '_' or '-', "
                             "not starting with '.' or '-' (no '/')")
        return value

    @model_validator(mode="after")
    def _file_tokens_for_llmc(self) -> "ExportParams":
        if self.file_tokens is not None and self.format != "nanogpt":
            raise ValueError(f"--file-tokens is for --format nanogpt (llm.c's int32 header count); "
                             f"{self.format} files have no such limit")
        return self

    @property
    def stem(self) -> str:
        """What every file name of this export starts with."""
        return f"{self.prefix}_" if self.prefix else ""


@dataclass
class SplitResult:
    split: str
    files: list[str]  # relative to the export folder
    tokens: int
    rows: int
    documents: int | None = None  # formats that keep document boundaries
    extra: dict[str, object] = field(default_factory=dict)


class Exporter(ABC):
    """One format. ``check`` refuses what the format cannot hold before anything is written;
    ``write_split`` streams one split's shards into staged files; ``finish`` writes the files
    that describe the whole export (after every split)."""

    name: ClassVar[str]

    def __init__(self, source: Source, params: ExportParams) -> None:
        self.source, self.params = source, params

    def check(self) -> None:
        """Raise ExportError when the source does not fit the format."""

    @abstractmethod
    def finals(self) -> list[str]:
        """Every path this export will publish (relative), known before any work."""

    @abstractmethod
    def write_split(self, split: str, staging: Staging, progress: Progress | None) -> SplitResult:
        """Stream one split into staged files."""

    def finish(self, staging: Staging, results: list[SplitResult]) -> None:
        """Files about the whole export (index of splits, metadata). Default: none."""

    @abstractmethod
    def keeps(self) -> dict[str, str]:
        """What this format keeps and drops of these shards: ``{"keeps": ..., "drops": ...}``."""

    def exported_dtype(self) -> str:
        return self.source.dtype.name
