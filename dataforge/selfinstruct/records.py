"""Reading seed tasks and instruction files; writing Alpaca JSON/JSONL with provenance beside it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, InputError, LockedError, Problem
from ..io import atomic_write_text


def load_seed_tasks(path: str | Path) -> list[dict[str, Any]]:
    """Self-Instruct seed tasks (JSONL: instruction, instances[{input, output}], is_classification).

    Every malformed line is reported (file:line and the fix), none skipped: the seed
    set decides what every prompt looks like.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError([Problem(str(path), None, "--seed-tasks", "file not found")])
    tasks: list[dict[str, Any]] = []
    problems: list[Problem] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                task = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(str(path), lineno, "", f"not valid JSON ({exc.msg}); "
                                        "each line must be one seed task object"))
                continue
            reason = _seed_problem(task)
            if reason:
                problems.append(Problem(str(path), lineno, "", reason))
                continue
            tasks.append(task)
    if problems:
        raise ConfigError(problems)
    if not tasks:
        raise ConfigError([Problem(str(path), None, "--seed-tasks", "no seed tasks in the file")])
    return tasks


def _seed_problem(task: Any) -> str | None:
    if not isinstance(task, dict) or not isinstance(task.get("instruction"), str):
        return "a seed task needs a string 'instruction'"
    inst = task.get("instances")
    if not isinstance(inst, list) or not inst or not all(isinstance(i, dict) and "output" in i for i in inst):
        return "a seed task needs 'instances': [{\"input\": ..., \"output\": ...}, ...]"
    return None


def read_instructions(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or position, record) from Alpaca JSON (a list) or JSONL; a bad record raises InputError."""
    for where, rec in read_records(path):
        yield where, _check_record(Path(path), where, rec)


def read_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line or position, JSON value) from a JSON array or a JSONL file; broken JSON raises."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([Problem(str(path), None, "INSTRUCTIONS", "file not found")])
    with open(path, encoding="utf-8") as fh:
        head = fh.read(1)
        while head and head.isspace():
            head = fh.read(1)
        fh.seek(0)
        if head == "[":
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ConfigError([Problem(str(path), exc.lineno, "", f"not valid JSON ({exc.msg})")]) from exc
            if not isinstance(data, list):
                raise ConfigError([Problem(str(path), None, "", "a .json instruction file must hold one array")])
            yield from enumerate(data)
            return
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(str(path), lineno, f"not valid JSON ({exc.msg})") from exc
                yield lineno, rec


def _check_record(path: Path, where: int, rec: Any) -> dict[str, Any]:
    if not isinstance(rec, dict) or not isinstance(rec.get("instruction"), str):
        raise InputError(str(path), where, "a record needs a string 'instruction' (Alpaca format)")
    return rec


def alpaca_record(instruction: str, inp: str, output: str) -> dict[str, str]:
    return {"instruction": instruction, "input": inp, "output": output}


def side_path(output: Path, suffix: str) -> Path:
    """A file beside ``output`` named after its *whole* name (``x.jsonl.run.json``), so
    ``x.jsonl`` and ``x.json`` never share provenance, summary, cache or lock."""
    return output.with_name(output.name + suffix)


def provenance_path(output: Path) -> Path:
    return side_path(output, ".provenance.jsonl")


def summary_path(output: Path) -> Path:
    return side_path(output, ".run.json")


def cache_path_for(output: Path) -> Path:
    return side_path(output, ".cache.sqlite")


def legacy_cache_path(output: Path) -> Path:
    """Where releases before 0.2 put the cache (shared by ``x.json`` and ``x.jsonl``)."""
    return output.with_name(output.name.rsplit(".", 1)[0] + ".cache.sqlite")


class OutputWriter:
    """Appends accepted records as they are accepted, provenance line-aligned beside them.

    ``.jsonl`` outputs grow in place; a ``.json`` output (one array) grows as a
    ``.json.part`` JSONL journal and is written atomically on ``close``. A lock keeps a
    second run out of the same output.
    """

    def __init__(self, output: str | Path) -> None:
        self.output = Path(output)
        if self.output.suffix not in (".json", ".jsonl"):
            raise ConfigError([Problem(str(self.output), None, "--output", "use a .json or .jsonl file name")])
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _acquire_lock(side_path(self.output, ".lock"))
        self.journal = self.output if self.output.suffix == ".jsonl" else side_path(self.output, ".part")
        self._records: IO[str] = open(self.journal, "w", encoding="utf-8")
        self._prov: IO[str] = open(provenance_path(self.output), "w", encoding="utf-8")
        self.count = 0

    def append(self, record: dict[str, Any], provenance: dict[str, Any]) -> None:
        self._records.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._prov.write(json.dumps(provenance, ensure_ascii=False) + "\n")
        self._records.flush()
        self._prov.flush()
        self.count += 1

    def close(self) -> None:
        self._records.close()
        self._prov.close()
        if self.output.suffix == ".json":
            with open(self.journal, encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
            atomic_write_text(self.output, json.dumps(rows, indent=4, ensure_ascii=False) + "\n")
            os.unlink(self.journal)
        with contextlib.suppress(OSError):
            self._lock.close()


def write_records(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Write a whole instruction file atomically, JSON or JSONL by suffix."""
    path = Path(path)
    if path.suffix == ".json":
        atomic_write_text(path, json.dumps(records, indent=4, ensure_ascii=False) + "\n")
    else:
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def _acquire_lock(path: Path) -> IO[str]:
    fh = open(path, "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        raise LockedError(f"{path}: another run is writing this output; wait for it or choose another "
                          "--output") from exc
    return fh
