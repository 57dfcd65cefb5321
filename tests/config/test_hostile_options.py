"""The options of every params model and the hostile values fed to each (issue 13).

``options(model)`` walks a params model: every field, nested models (``tokenize.train``,
``exact_dedup.normalize``, ``decontaminate.references[0]``), per-language blocks
(``per_language.fr.<option>``), dict values (``mix.weights.<source>``) and the numbers
inside tuples (``gopher_repetition.top_n_grams[0][1]``). ``values(option)`` gives the
option's own bounds and just past them, then the same hostile set for every option:
0, -1, 0.5, NaN, inf, -inf, 1e23, 2**63, a string, a list, null, a bool.

The property test (test_params_property.py) builds pipelines from these; the tests here
check the walk and the values themselves.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import annotated_types as at
from pydantic import BaseModel

#: the values every option gets, whatever its type
HOSTILE: tuple[Any, ...] = (0, -1, 0.5, math.nan, math.inf, -math.inf, 1e23, 2**63, "x", [1], None, True)


@dataclass(frozen=True)
class Option:
    """One option of a params model, as a path inside the step's options mapping."""

    path: tuple[str | int, ...]
    bounds: tuple[tuple[str, float], ...] = ()  # ("ge", 1), ("lt", 1.0), ...
    integer: bool = False  # an int field (its bounds step by 1)
    start: tuple[tuple[str | int, ...], Any] | None = None  # element options: (field path, the field's default)

    @property
    def key(self) -> str:
        """The path as the config loader prints it: ``per_language.fr.min_doc_words``, ``top_n_grams[0][1]``."""
        return fmt_key(self.path)


def fmt_key(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _members(ann: Any) -> tuple[list[Any], list[Any]]:
    """(the non-None members of a union, the metadata of Annotated members)."""
    meta: list[Any] = []
    out: list[Any] = []
    stack = [ann]
    while stack:
        a = stack.pop(0)
        origin = typing.get_origin(a)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(a)
            for m in extra:  # Field(...) inside Annotated carries its constraints as metadata
                meta.extend(getattr(m, "metadata", [m]))
            stack.insert(0, base)
        elif origin in (typing.Union, types.UnionType):
            stack[:0] = list(typing.get_args(a))
        elif a is not type(None):
            out.append(a)
    return out, meta


def _bounds(meta: list[Any]) -> tuple[tuple[str, float], ...]:
    out = []
    for m in meta:
        for kind in ("ge", "gt", "le", "lt"):
            v = getattr(m, kind, None)
            if isinstance(m, (at.Ge, at.Gt, at.Le, at.Lt, at.Interval)) and isinstance(v, (int, float)):
                out.append((kind, v))
    return tuple(out)


def options(model: type[BaseModel], prefix: tuple[str | int, ...] = (), *,
            dict_keys: dict[str, str] | None = None) -> list[Option]:
    """Every option of ``model`` (see the module docstring), ``prefix`` before each path;
    ``dict_keys`` names the key used for a dict-typed field (per_language -> fr)."""
    keys = dict_keys or {}
    out: list[Option] = []
    for name, info in model.model_fields.items():
        out += _field(prefix + (name,), info.annotation, list(info.metadata), keys, default=info.get_default(
            call_default_factory=True))
    return out


def _field(path: tuple[str | int, ...], ann: Any, meta: list[Any], keys: dict[str, str], *,
           default: Any) -> list[Option]:
    members, inner_meta = _members(ann)
    meta = meta + inner_meta
    integer = int in members and float not in members
    out = [Option(path, _bounds(meta), integer)]
    for m in members:
        origin, args = typing.get_origin(m), typing.get_args(m)
        if isinstance(m, type) and issubclass(m, BaseModel):
            out += options(m, path, dict_keys=keys)
        elif origin is dict and len(args) == 2:
            key = keys.get(str(path[-1]), "x")
            out += _field(path + (key,), args[1], [], keys, default=None)
        elif origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            out += options(args[0], path + (0,), dict_keys=keys)
        elif origin is tuple and default:
            out += _elements(path, m, default)
    return out


def _elements(path: tuple[str | int, ...], ann: Any, default: Any) -> list[Option]:
    """Numbers inside a tuple field: ``top_n_grams[0][0]`` (an int), ``[0][1]`` (a float);
    an element type may be ``Annotated[int, Field(ge=1)]``, whose bounds it carries."""
    args = typing.get_args(ann)
    first = args[0]
    start = (path, _plain(default))
    out: list[Option] = []

    def one(elem: Any, at_path: tuple[str | int, ...]) -> Option:
        members, meta = _members(elem)
        return Option(at_path, _bounds(meta), int in members and float not in members, start)

    if len(args) == 2 and args[1] is Ellipsis and typing.get_origin(first) is tuple:  # tuple[tuple[int, float], ...]
        for j, elem in enumerate(typing.get_args(first)):
            out.append(one(elem, path + (0, j)))
    elif all(_members(a)[0][:1] in ([int], [float]) for a in args if a is not Ellipsis):  # tuple[float, float]
        for j, elem in enumerate(a for a in args if a is not Ellipsis):
            out.append(one(elem, path + (j,)))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _past(b: float, *, integer: bool, up: bool) -> float:
    if integer and float(b).is_integer():
        return int(b) + (1 if up else -1)
    return math.nextafter(float(b), math.inf if up else -math.inf)


def values(opt: Option) -> list[Any]:
    """The option's bounds and just past each (outside for ge/le, inside for gt/lt), then ``HOSTILE``."""
    got: list[Any] = []
    for kind, b in opt.bounds:
        b = int(b) if opt.integer and float(b).is_integer() else b
        got += [b, _past(b, integer=opt.integer, up=kind in ("gt", "le"))]
    got += HOSTILE
    out: list[Any] = []
    seen: set[tuple[str, str]] = set()
    for v in got:
        ident = (type(v).__name__, repr(v))
        if ident not in seen:
            seen.add(ident)
            out.append(v)
    return out


def set_path(options_: dict[str, Any], opt: Option, value: Any) -> dict[str, Any]:
    """A copy of ``options_`` with ``opt`` set to ``value`` (containers made as needed)."""
    import copy

    root: Any = copy.deepcopy(options_)
    if opt.start is not None:
        field_path, default = opt.start
        _put(root, field_path, copy.deepcopy(default), keep=True)
    _put(root, opt.path, value, keep=False)
    return root


def _put(root: Any, path: tuple[str | int, ...], value: Any, *, keep: bool) -> None:
    node = root
    for i, p in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(node, dict):
            if not isinstance(node.get(p), (dict, list)):
                node[p] = [] if isinstance(nxt, int) else {}
            node = node[p]
        else:
            while len(node) <= int(p):
                node.append([] if isinstance(nxt, int) else {})
            node = node[int(p)]
    last = path[-1]
    if isinstance(node, dict):
        if not (keep and last in node):
            node[last] = value
    else:
        while len(node) <= int(last):
            node.append(None)
        node[int(last)] = value


def walk_all(models: dict[str, tuple[type[BaseModel], dict[str, str]]]) -> Iterator[tuple[str, Option]]:
    for name, (model, keys) in models.items():
        for opt in options(model, dict_keys=keys):
            yield name, opt


# ---- the walk and the values, checked ------------------------------------------------------------
def test_the_walk_reaches_nested_models_language_blocks_dicts_and_tuple_elements() -> None:
    from dataforge.filters.gopher import GopherQualityParams, GopherRepetitionParams
    from dataforge.mix import MixParams
    from dataforge.tokenize.stage import TokenizeParams

    keys = {o.key for o in options(GopherQualityParams, dict_keys={"per_language": "fr"})}
    assert {"min_doc_words", "per_language", "per_language.fr", "per_language.fr.min_doc_words"} <= keys
    tok = {o.key: o for o in options(TokenizeParams)}
    assert tok["train.vocab_size"].bounds == (("ge", 260), ("le", 1 << 24)) and tok["train.vocab_size"].integer
    rep = {o.key: o for o in options(GopherRepetitionParams)}
    assert rep["top_n_grams[0][0]"].integer and not rep["top_n_grams[0][1]"].integer
    mix = {o.key: o for o in options(MixParams, dict_keys={"weights": "c4"})}
    assert mix["weights.c4"].bounds == (("ge", 0), ("le", 1e12)) and not mix["weights.c4"].integer


def test_values_are_each_bound_just_past_it_and_the_hostile_set() -> None:
    v = values(Option(("n",), (("ge", 1), ("le", 10)), integer=True))
    assert v[:4] == [1, 0, 10, 11] and v.count(0) == 1  # 0 from the bound is not tried twice
    assert math.nan in v or any(isinstance(x, float) and math.isnan(x) for x in v)
    f = values(Option(("p",), (("gt", 0), ("lt", 1)), integer=False))
    assert f[0] == 0 and 0 < f[1] < 1e-300 and f[2] == 1 and f[3] == math.nextafter(1.0, 0.0)
    assert len(values(Option(("s",)))) == len(HOSTILE)


def test_set_path_builds_containers_and_keeps_the_rest_of_a_tuple() -> None:
    opt = Option(("top_n_grams", 0, 1), (), False, (("top_n_grams",), [[2, 0.2], [3, 0.18]]))
    assert set_path({"a": 1}, opt, math.inf) == {"a": 1, "top_n_grams": [[2, math.inf], [3, 0.18]]}
    assert set_path({}, Option(("per_language", "fr", "x")), 0) == {"per_language": {"fr": {"x": 0}}}
    assert set_path({"references": [{"name": "a"}]}, Option(("references", 0, "name")), 5) == {
        "references": [{"name": 5}]}
