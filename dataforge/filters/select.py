"""``select``: keep documents by a meta field another stage wrote.

Stages annotate as well as drop: ``perplexity`` writes CCNet's ``meta.perplexity_bucket``
(head, middle, tail; Wenzek et al. 2020, section 3.3), ``langid`` ``meta.lang`` and
``meta.lang_score``, ``quality_classifier`` ``meta.quality``, a reader the input's own
columns. ``select`` keeps the documents whose field is one of ``values``, or lies in
``[min, max]`` for a number, so a later part of the pipeline works on one bucket:

    - perplexity: {model: out/wiki_lm}
    - select: {key: perplexity_bucket, values: [head, middle]}   # CCNet kept head and middle

With ``sources:`` it applies to some inputs only, and two ``select`` stages with different
``sources:`` give each input its own cut. Reasons: ``not_selected`` (the value is not
wanted), ``missing`` (the document has no such field; ``keep_missing: true`` keeps it).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, field_validator

from ..document import Document
from ..stage import AnyParams, Filter, FilterParams


class SelectParams(FilterParams):
    # the meta field to select on, e.g. perplexity_bucket, lang, quality; a dotted path
    # (a.b) reads a nested field
    key: str = Field(min_length=1)
    # keep documents whose field equals one of these (strings, numbers or booleans)
    values: list[str | int | float | bool] | None = None
    # keep documents whose (numeric) field is at least min and at most max
    min: float | None = None
    max: float | None = None
    # keep documents that have no such field (default: drop them, reason "missing")
    keep_missing: bool = False

    @field_validator("values")
    @classmethod
    def _some_values(cls, v: list[Any] | None) -> list[Any] | None:
        if v == []:
            raise ValueError("values: [] would drop every document; list the values to keep")
        return v


def meta_value(meta: dict[str, Any], key: str) -> tuple[bool, Any]:
    """(present, value) of a dotted ``key`` in ``meta``."""
    node: Any = meta
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _same(a: Any, b: Any) -> bool:
    """Equal, where a bool equals only a bool (in Python true == 1) and 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def select_reason(meta: dict[str, Any], p: SelectParams) -> str | None:
    """Why a document with this meta is dropped, or None to keep it."""
    present, value = meta_value(meta, p.key)
    if not present or value is None:
        return None if p.keep_missing else "missing"
    if p.values is not None:
        return None if any(_same(v, value) for v in p.values) else "not_selected"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return "not_selected"
    if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
        return "not_selected"
    return None


class Select(Filter[SelectParams]):
    """Keep documents whose meta field has one of the wanted values (or lies in a range)."""

    Params: ClassVar[type[SelectParams]] = SelectParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "not_selected": "the field's value is not one of `values` (or outside `min`..`max`)",
        "missing": "the document has no such field (`keep_missing` keeps it)",
    }

    @classmethod
    def check(cls, params: AnyParams) -> list[tuple[str, str]]:
        """The rule must be one of the two and able to keep something (at the option's key)."""
        if not isinstance(params, SelectParams):
            return []
        ranged = params.min is not None or params.max is not None
        if params.values is None and not ranged:
            given = [k for k in ("min", "max") if k in params.model_fields_set]  # min: null given: say so there
            return [(given[0] if given else "values", "give values: [...] or a min/max range to select on")]
        if params.values is not None and ranged:
            return [("min" if params.min is not None else "max", "give either values: or min/max, not both")]
        if params.min is not None and params.max is not None and params.min > params.max:
            return [("min", f"min ({params.min}) is above max ({params.max}): every document would be dropped")]
        return []

    def reject(self, doc: Document) -> str | None:
        return select_reason(doc.meta, self.params)
