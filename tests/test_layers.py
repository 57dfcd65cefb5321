"""The import graph keeps its layers (issue 18): read from the source, so a new import that
crosses a layer fails here before it becomes a cycle someone has to untangle.

  cli                          click and rich live here only
  api, runner, report, export, ablate, config, reference
  stages and what they use: stage, readers, filters, dedup, lang, tokenize, mix, writers,
                            selfinstruct, train
  base: errors, io, document, yamlfile, paths, outputs, stats, docstore
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dataforge"
BASE = {"errors", "io", "document", "yamlfile", "paths", "outputs", "stats", "docstore"}
OPERATORS = {"stage", "readers", "filters", "dedup", "lang", "tokenize", "mix", "writers", "selfinstruct", "train",
             "registry"}
DRIVERS = {"api", "runner", "report", "export", "ablate", "config", "reference", "pathcheck", "__main__"}


@lru_cache(maxsize=1)
def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> dataforge modules it imports, module -> third-party top-level packages)."""
    inner: dict[str, set[str]] = defaultdict(set)
    outer: dict[str, set[str]] = defaultdict(set)
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        mod = ".".join(parts[:-1] if is_init else parts)
        pkg = mod if is_init else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                    names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                else:
                    names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                (inner if name.split(".")[0] == "dataforge" else outer)[mod].add(
                    name if name.startswith("dataforge") else name.split(".")[0])
    return inner, outer


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_click_and_rich_only_in_the_cli() -> None:
    _, outer = _graph()
    bad = {m: sorted(outer[m] & {"click", "rich"}) for m in outer
           if outer[m] & {"click", "rich"} and not m.startswith("dataforge.cli")}
    assert bad == {}


def test_each_layer_imports_only_below_it() -> None:
    inner, _ = _graph()
    problems = []
    for mod, targets in sorted(inner.items()):
        here = _area(mod)
        for t in sorted(targets):
            there = _area(t)
            if there in ("", here) or t == "dataforge":
                continue
            if there == "cli" and here != "__main__":
                problems.append(f"{mod} imports the CLI ({t})")
            elif here in BASE and there not in BASE:
                problems.append(f"{mod} (base) imports {t}")
            elif here in OPERATORS and there in DRIVERS | {"cli"}:
                problems.append(f"{mod} (a stage or what stages use) imports {t}, which drives runs")
            elif here == "config" and there in {"runner", "report", "export", "ablate", "api"}:
                problems.append(f"{mod} imports {t}: the config is read before anything runs")
    assert problems == []
