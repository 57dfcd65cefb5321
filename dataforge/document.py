"""The one record that moves through a pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Document:
    """A document in flight.

    ``id`` is stable across runs: the input's own id when it has one, else
    ``source/file:line`` (or ``:offset`` for WARC). ``source`` is the input's name in
    the pipeline file. ``meta`` holds everything else (url, lang, scores, ...) and
    must stay JSON-serialisable.
    """

    id: str
    text: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
