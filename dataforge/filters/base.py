"""A filter whose decision is a pure function of the text and the options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ..document import Document
from ..stage import Filter, P


class TextRuleFilter(Filter[P]):
    """Subclasses set ``Params`` and ``rule = staticmethod(fn)`` with
    ``fn(text, params) -> reason | None``."""

    rule: ClassVar[Callable[[str, Any], str | None]]

    def reject(self, doc: Document) -> str | None:
        return type(self).rule(doc.text, self.params)
