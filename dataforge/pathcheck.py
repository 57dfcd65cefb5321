"""Where a run may write: the output directory checks made before any work starts.

A run writes many files under its output (``documents/``, ``rejected/``, ``_work/``,
``shards/``...). Pointed at the wrong place it would either clobber the user's files or,
worse, read its own outputs back as inputs on the next run. Refused, with the reason:

* an empty or missing ``output:``; the filesystem root; the user's home; the current
  directory; a project root (a folder holding ``.git`` or ``pyproject.toml``); a folder
  that holds the pipeline file;
* a folder that holds an input file, or one an input glob reaches into (a file the run
  would write there matches the glob);
* a non-empty folder that dataforge did not make (``outputs.check_claimable``).
"""

from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path, PurePosixPath

#: what a run writes under its output, relative: any of these matching an input glob
#: means a rerun would read the run's own files back
WRITTEN_SAMPLES = ("manifest.json", "stats.json", "tokenizer.json", "report.html", "logs/run-1.log",
                   "logs/last_run.json", "shards/train-00000.arrow", "documents/src/task.jsonl",
                   "documents/src/task.jsonl.zst", "documents/src/task.parquet", "rejected/1_stage/task.jsonl",
                   "dedup/clusters.parquet", "_work/cfg/phase-0/task/docs.parquet", "_work/cfg/phase-0/task.done",
                   "train/metrics.jsonl", "decontamination/9_decontaminate/task.jsonl")


def _match_parts(pat: list[str], path: list[str]) -> bool:
    if not pat:
        return not path
    if pat[0] == "**":
        return any(_match_parts(pat[1:], path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], pat[0]) and _match_parts(pat[1:], path[1:])


def glob_could_match(pattern: str, path: str | os.PathLike[str]) -> bool:
    """Would ``glob.glob(pattern, recursive=True)`` list ``path`` if it existed? (both made
    absolute against the current directory; ``**`` spans folders, ``*`` does not)."""
    pat = PurePosixPath(os.path.abspath(pattern)).parts
    target = PurePosixPath(os.path.abspath(path)).parts
    return _match_parts(list(pat), list(target))


def _static_root(pattern: str) -> Path:
    """The folder a glob starts from: its components before the first wildcard."""
    parts: list[str] = []
    for part in Path(os.path.abspath(pattern)).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path("/")


def output_problems(output: Path, *, pipeline_path: str, patterns: dict[str, list[str]],
                    files: dict[str, list[str]]) -> list[tuple[tuple[str, ...], str]]:
    """Why ``output`` may not be a run's output directory: ``(key path, message)`` pairs."""
    out = Path(os.path.abspath(output))
    resolved = out.resolve()
    fix = "; choose a folder of its own, e.g. out/<pipeline name>"
    if resolved == Path(resolved.anchor):
        return [(("output",), f"'{output}' is the filesystem root{fix}")]
    if resolved == Path.home().resolve():
        return [(("output",), f"'{output}' is your home directory{fix}")]
    if resolved == Path.cwd().resolve():
        return [(("output",), f"'{output}' is the current directory{fix}")]
    if resolved.is_dir() and any((resolved / m).exists() for m in (".git", "pyproject.toml")):
        return [(("output",), f"'{output}' is a project root (it holds .git or pyproject.toml){fix}")]
    pipeline_dir = Path(os.path.abspath(pipeline_path)).parent.resolve()
    if pipeline_dir == resolved or resolved in pipeline_dir.parents:
        return [(("output",), f"'{output}' holds the pipeline file {pipeline_path}{fix}")]
    problems: list[tuple[tuple[str, ...], str]] = []
    for name, names in files.items():
        inside = next((f for f in names if resolved in Path(os.path.abspath(f)).resolve().parents), None)
        if inside is not None:
            problems.append((("inputs", name, "paths"), f"input file {inside} is inside the output '{output}'; "
                             f"a run writes and cleans there{fix}"))
    for name, pats in patterns.items():
        for pat in pats:
            if "://" in pat:
                continue
            hit = next((s for s in WRITTEN_SAMPLES if glob_could_match(pat, out / s)), None)
            if hit is not None:
                problems.append((("inputs", name, "paths"),
                                 f"'{pat}' would also match files the run writes under the output '{output}' "
                                 f"(e.g. {out / hit}): a rerun would read its own output back{fix}"))
            elif resolved == _static_root(pat).resolve():
                problems.append((("inputs", name, "paths"),
                                 f"the output '{output}' is the folder '{pat}' reads inputs from{fix}"))
    return problems
