"""What ``dataforge stages NAME`` prints and ``docs/stages.md`` holds: every option of a stage
with its type, default and meaning, the drop reasons it counts, and its per-language defaults.

The meaning of an option is the comment block right above its field in the params model
(the house style puts each default's source there, e.g. ``# Gopher A1.1: "fewer than 50 ..."``),
read from the source with :mod:`tokenize`; inherited fields come from the class that
declares them. Drop reasons come from the stage class's ``reasons`` table.
"""

from __future__ import annotations

import inspect
import io
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from . import registry
from .lang.defaults import defaults_table


@dataclass
class OptionDoc:
    name: str
    type: str
    default: str
    doc: str


@dataclass
class StageDoc:
    name: str
    kind: str  # stage | barrier | reader
    package: str
    summary: str
    options: list[OptionDoc] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    per_language: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def _comments(cls: type) -> dict[str, str]:
    """field name -> the comment lines right above its assignment in ``cls``'s own body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # built at run time, no source
        return {}
    out: dict[str, str] = {}
    pending: list[str] = []
    depth_line = None
    current: tuple[str, int] | None = None  # the field whose line this is
    group: str | None = None  # the comment of the field just above (no blank line between)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and current and tok.start[0] == current[1] and tok.start[1] > 4:
            trailing = tok.string.lstrip("#").strip()  # `x: int = 3  # what x is`
            out[current[0]] = f"{out[current[0]]} ({trailing})" if current[0] in out else trailing
        elif tok.type == tokenize.COMMENT and tok.start[1] == 4:
            text = tok.string.lstrip("#").strip()
            if not text.startswith(":"):  # "#:" doc comments of class attributes are not options
                pending.append(text)
        elif tok.type == tokenize.NAME and tok.start[1] == 4 and tok.start[0] != depth_line:
            depth_line = tok.start[0]
            current = (tok.string, tok.start[0])
            if pending:
                out.setdefault(tok.string, " ".join(pending))
            elif group:  # a block comment above two fields (min_x, max_x) documents both
                out.setdefault(tok.string, group)
            group = out.get(tok.string)
            pending = []
        elif tok.type == tokenize.NL and not tok.line.strip():
            group = None  # a blank line ends a group
        elif tok.type not in (tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.NL) \
                and tok.start[1] == 4:
            pending = []
    return out


def option_docs(model: type[BaseModel]) -> list[OptionDoc]:
    """Every option of ``model``, in declaration order, with its comment from the declaring class."""
    notes: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel):
            notes.update(_comments(klass))
    out = []
    for name, info in model.model_fields.items():
        if info.is_required():
            default = "(required)"
        else:
            default = _show(info.get_default(call_default_factory=True))
        out.append(OptionDoc(name, _type_name(info.annotation), default, notes.get(name, "")))
    return out


def _show(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "{...}"
    text = "null" if value is None else ("true" if value is True else "false" if value is False else repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(ann: Any) -> str:
    """A type as a user reads it: ``int | None``, ``list[str]``, ``tuple[tuple[int, float], ...]``."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else _type_name(a) for a in args)}]"
    if ann is type(None):
        return "None"
    return getattr(ann, "__name__", str(ann))


def stage_doc(kind: str, name: str) -> StageDoc:
    """The reference of one stage or reader (``kind``: "stages" or "readers")."""
    cls = registry.resolve(registry.table(kind), name)
    doc = inspect.getdoc(cls) or ""
    is_barrier = bool(getattr(cls, "barrier", False))
    return StageDoc(name=name, kind="reader" if kind == "readers" else ("barrier" if is_barrier else "stage"),
                    package=registry.origin(kind, name), summary=doc.split("\n\n")[0].replace("\n", " "),
                    options=option_docs(cls.Params), reasons=dict(getattr(cls, "reasons", {})),
                    per_language=defaults_table(name) if kind == "stages" else {})


def render_text(d: StageDoc) -> str:
    lines = [f"{d.name} ({d.kind}, from {d.package})", f"  {d.summary}" if d.summary else "", "", "options:"]
    for o in d.options:
        lines.append(f"  {o.name}: {o.type} = {o.default}")
        if o.doc:
            lines += ["      " + w for w in textwrap.wrap(o.doc, 92)]
    if d.reasons:
        lines += ["", "drop reasons (stats.json dropped.<reason>; {n} is a number):"]
        lines += [f"  {r}: {m}" for r, m in d.reasons.items()]
    if d.per_language:
        lines += ["", "per-language defaults (used when langid set the language; per_language: overrides):"]
        for lang, opts in d.per_language.items():
            lines.append(f"  {lang}: " + ", ".join(f"{k}={v['value']!r}" for k, v in opts.items()))
            sources = sorted({v["source"] for v in opts.values()})
            lines.append("      source: " + "; ".join(sources))
    return "\n".join(line for line in lines if line is not None) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(docs: list[StageDoc]) -> str:
    """docs/stages.md: every stage and reader (generated; tests keep it in sync)."""
    out = ["# Stages and readers", "",
           "Generated by `dataforge stages --markdown > docs/stages.md` (a test keeps it in sync with the "
           "code). `dataforge stages NAME` prints one entry, with its per-language defaults.", ""]
    for d in docs:
        out += [f"## `{d.name}` ({d.kind})", "", d.summary, "", "| option | type | default | meaning |",
                "|---|---|---|---|"]
        out += [f"| `{o.name}` | {_md_cell(o.type)} | `{_md_cell(o.default)}` | {_md_cell(o.doc)} |" for o in d.options]
        if d.reasons:
            out += ["", "| drop reason | when |", "|---|---|"]
            out += [f"| `{r}` | {_md_cell(m)} |" for r, m in d.reasons.items()]
        if d.per_language:
            langs = ", ".join(sorted(d.per_language))
            out += ["", f"Per-language defaults for: {langs} (`dataforge stages {d.name}` lists the values)."]
        out.append("")
    return "\n".join(out)


def all_docs() -> list[StageDoc]:
    """Every built-in and plugin stage and reader that imports."""
    docs = []
    for kind in ("readers", "stages"):
        for name in registry.table(kind):
            try:
                docs.append(stage_doc(kind, name))
            except (ImportError, AttributeError):
                continue
    return docs
