"""A filter whose decision is a pure function of the text and the options."""

from __future__ import annotations

from typing import Any

from ..document import Document
from ..stage import Filter, P


class TextRuleFilter(Filter[P]):
    """Subclasses set ``Params`` and ``rule = staticmethod(fn)`` with
    ``fn(text, params, *, language=None) -> reason | None``."""

    @staticmethod
    def rule(text: str, params: Any, /, *, language: str | None = None) -> str | None:
        """Why ``text`` is dropped under ``params`` (words split as ``language``), or None."""
        raise NotImplementedError

    def reject(self, doc: Document) -> str | None:
        return self.rule(doc.text, self.params)
