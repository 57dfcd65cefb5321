"""Reading YAML configuration safely: data only, every key once, bounded aliases, line numbers.

PyYAML's safe loader already refuses tags that build objects. Two traps remain:

* a key given twice in one mapping: the last one silently wins (an input vanishes).
  Here it is an error naming both lines;
* aliases: ``&a [*b, *b, ...]`` nine levels deep is a 1 KB file that expands to a
  billion items when anything walks it (``json.dumps`` for the config hash, a
  validator). The composed node graph is measured before anything is constructed: its
  *expanded* size (each alias counted as a copy of its anchor, memoised) must stay
  under ``MAX_EXPANDED_NODES``.

Line numbers come from the node marks (``Lines``), so every problem can say
``file:line``.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ConfigError, Problem

#: far above any real pipeline file (the bundled one has ~150 nodes), far below harm
MAX_EXPANDED_NODES = 100_000


class Lines:
    """Maps key paths to line numbers using the composed YAML node tree."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.root = node

    def line(self, *path: str | int) -> int | None:
        node, best = self.root, None
        for key in path:
            if node is None:
                break
            best = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if k.value == key:
                        best, nxt = k.start_mark.line + 1, v
                        break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                best = node.start_mark.line + 1
            else:
                node = None
        if node is not None:
            best = node.start_mark.line + 1
        return best


def expanded_size(node: yaml.Node) -> int:
    """Nodes the document would have with every alias copied out (memoised, iterative)."""
    memo: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        n, done = stack.pop()
        if id(n) in memo:
            continue
        children = _children(n)
        if done or not children:
            memo[id(n)] = 1 + sum(memo.get(id(c), 1) for c in children)
            if memo[id(n)] > MAX_EXPANDED_NODES:
                return memo[id(n)]
            continue
        stack.append((n, True))
        stack.extend((c, False) for c in children if id(c) not in memo)
    return memo[id(node)]


def _children(n: yaml.Node) -> list[yaml.Node]:
    if isinstance(n, yaml.MappingNode):
        return [x for kv in n.value for x in kv]
    if isinstance(n, yaml.SequenceNode):
        return list(n.value)
    return []


def duplicate_keys(node: yaml.Node | None, path: str) -> list[Problem]:
    """Every key given twice in one mapping, with both lines."""
    out: list[Problem] = []
    seen_nodes: set[int] = set()
    stack = [(node, "")] if node is not None else []
    while stack:
        n, where = stack.pop()
        if id(n) in seen_nodes:
            continue
        seen_nodes.add(id(n))
        if isinstance(n, yaml.MappingNode):
            first: dict[Any, int] = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else None
                line = k.start_mark.line + 1
                if key is not None and key in first:
                    out.append(Problem(path, line, f"{where}.{key}".lstrip("."),
                                       f"'{key}' is given twice (lines {first[key]} and {line}); "
                                       "the second would silently replace the first: keep one"))
                elif key is not None:
                    first[key] = line
                stack.append((v, f"{where}.{key}" if key is not None else where))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((c, f"{where}[{i}]") for i, c in enumerate(n.value))
    return sorted(out, key=lambda p: p.line or 0)


#: the C parser of PyYAML when it was built with libyaml (the wheels are); safe either way
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, *, path: str) -> tuple[Any, Lines]:
    """Parse ``text`` (a whole YAML file) into plain data and its line map, or raise
    ConfigError naming the file, line and what is wrong."""
    try:
        node = yaml.compose(text, Loader=_FAST_LOADER)  # libyaml when installed: the same nodes, faster
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError([Problem(path, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if node is not None and expanded_size(node) > MAX_EXPANDED_NODES:
        raise ConfigError([Problem(path, node.start_mark.line + 1, "",
                                   f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values (an alias "
                                   "bomb?); write the values out instead of nesting aliases")])
    dups = duplicate_keys(node, path)
    if dups:
        raise ConfigError(dups)
    try:
        # the data from the nodes already parsed (safe constructors only), not a second parse
        data = yaml.SafeLoader("").construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError([Problem(path, mark.line + 1 if mark else None, "",
                                   f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    return data, Lines(node)
