"""Helpers for reader tests: run a reader on one file, get documents and skip counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dataforge.document import Document
from dataforge.readers.base import READ_LABEL, Reader
from dataforge.stats import Stats


@dataclass
class Result:
    docs: list[Document]
    skipped: dict[str, float]  # reason -> count (the ``skipped.`` prefix removed)


def run_reader(cls: type[Reader], path: str | Path, **params: Any) -> Result:
    stats = Stats()
    reader = cls(cls.Params(**params), source="src", stats=stats)
    docs = list(reader.read(str(path)))
    totals = stats.totals(READ_LABEL)
    skipped = {k.removeprefix("skipped."): v for k, v in totals.items() if k.startswith("skipped.")}
    return Result(docs, skipped)


@pytest.fixture
def read():
    return run_reader
