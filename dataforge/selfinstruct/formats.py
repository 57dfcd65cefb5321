"""``dataforge format-instructions``: a labelled dataset -> instruction records by templates.

The survey's "formatted instance construction" the way FLAN did it (Wei et al. 2021,
section 2.2): a library of templates per task shape (``templates/formats.yaml``: QA,
classification, summarisation), one template per example chosen by a stable hash of
(seed, example id) - never ``hash()`` - and inverted templates (answer -> question)
in the same pool unless ``inverted=False``. A template naming an optional field
(``{context}``) is used only for examples that have it.

Inputs: JSONL / JSON, Parquet, or a Hugging Face dataset saved with ``save_to_disk``
(a folder with ``state.json`` and Arrow stream files, or a ``DatasetDict`` folder with
``dataset_dict.json``: pick ``split``), read with pyarrow, batch by batch. A column
with ClassLabel names in ``dataset_info.json`` is written as its label name.
``field_map`` maps task fields to columns, with dotted paths and list indexes
(``answer=answers.text[0]``). An example missing a required field is skipped and
counted (``skipped.missing_<field>``).
"""

from __future__ import annotations

import difflib
import json
import re
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
import yaml

from ..errors import ConfigError, Problem
from .records import read_records, write_records

_PATH_PART = re.compile(r"^([^\[\]]+)((?:\[\d+\])*)$")


@dataclass(frozen=True)
class Task:
    name: str
    fields: tuple[str, ...]
    optional: tuple[str, ...]
    templates: tuple[dict[str, str], ...]
    inverted: tuple[dict[str, str], ...]


def load_library(path: Path | None = None) -> dict[str, Task]:
    where = str(path) if path else "dataforge/selfinstruct/templates/formats.yaml"
    raw = Path(path).read_text(encoding="utf-8") if path else (
        resources.files("dataforge.selfinstruct") / "templates" / "formats.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(raw)
        tasks = {}
        for name, spec in data["tasks"].items():
            task = Task(name, tuple(spec["fields"]), tuple(spec.get("optional", ())),
                        tuple(spec["templates"]), tuple(spec.get("inverted", ())))
            for t in task.templates + task.inverted:
                unknown = set(placeholders(t)) - set(task.fields) - set(task.optional)
                if unknown or set(t) != {"instruction", "input", "output"}:
                    raise ValueError(f"task {name}: template {t} must have instruction/input/output and use only "
                                     f"{', '.join(task.fields + task.optional)} (found {', '.join(sorted(unknown))})")
            tasks[name] = task
        return tasks
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError([Problem(where, None, "--templates", f"not a template library ({exc})")]) from exc


def placeholders(template: dict[str, str]) -> list[str]:
    return [f for part in template.values() for _, f, _, _ in string.Formatter().parse(part) if f]


def lookup(record: dict[str, Any], path: str) -> Any:
    """``answers.text[0]``: dotted keys, then list indexes; None when any step is missing."""
    value: Any = record
    for part in path.split("."):
        m = _PATH_PART.match(part)
        if m is None or not isinstance(value, dict):
            return None
        value = value.get(m.group(1))
        for idx in re.findall(r"\[(\d+)\]", m.group(2)):
            if not isinstance(value, list) or int(idx) >= len(value):
                return None
            value = value[int(idx)]
    return value


def as_text(value: Any, names: list[str] | None = None) -> str | None:
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value).lower()
    if isinstance(value, int) and names is not None and 0 <= value < len(names):
        return names[value]
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        parts = [as_text(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    return value.strip() or None if isinstance(value, str) else None


@dataclass
class Formatter:
    task: Task
    seed: int = 0
    inverted: bool = True
    field_map: dict[str, str] = field(default_factory=dict)
    label_names: dict[str, list[str]] = field(default_factory=dict)  # column -> ClassLabel names
    counts: Counter[str] = field(default_factory=Counter)

    def values(self, record: dict[str, Any]) -> dict[str, str]:
        out = {}
        for name in self.task.fields + self.task.optional:
            column = self.field_map.get(name, name)
            text = as_text(lookup(record, column), self.label_names.get(column))
            if text is not None:
                out[name] = text
        if "options" in self.task.optional and "options" not in out and "label" in self.task.fields:
            names = self.label_names.get(self.field_map.get("label", "label"))
            if names:
                out["options"] = ", ".join(names)
        return out

    def format(self, record: dict[str, Any], rid: str) -> dict[str, Any] | None:
        vals = self.values(record)
        missing = [f for f in self.task.fields if f not in vals]
        if missing:
            self.counts[f"skipped.missing_{missing[0]}"] += 1
            return None
        pool = [(t, False) for t in self.task.templates] + ([(t, True) for t in self.task.inverted]
                                                            if self.inverted else [])
        usable = [(t, inv) for t, inv in pool if all(p in vals for p in placeholders(t))]
        pick = xxhash.xxh64_intdigest(f"{self.seed}:{rid}".encode()) % len(usable)
        template, inverted = usable[pick]
        self.counts["inverted" if inverted else "direct"] += 1
        self.counts[f"template.{pool.index((template, inverted))}"] += 1
        rec = {k: template[k].format_map(vals) for k in ("instruction", "input", "output")}
        return {**rec, "task": self.task.name, "template": pool.index((template, inverted)), "inverted": inverted,
                "source_id": rid}


def read_dataset(path: Path, *, split: str = "train") -> tuple[Iterator[tuple[str, dict[str, Any]]], dict[str, list[str]]]:
    """(records with ids, ClassLabel names per column) of a JSON(L) file, a Parquet file or a save_to_disk folder."""
    path = Path(path)
    if path.is_dir():
        return _hf_dataset(path, split)
    if path.suffix == ".parquet":
        def rows() -> Iterator[tuple[str, dict[str, Any]]]:
            n = 0
            for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
                for rec in batch.to_pylist():
                    yield _rid(rec, n), rec
                    n += 1
        return rows(), {}
    return ((_rid(rec, i) if isinstance(rec, dict) else str(i), rec) for i, rec in read_records(path)), {}


def _rid(rec: dict[str, Any], position: int) -> str:
    rid = rec.get("id")
    return str(rid) if isinstance(rid, (str, int)) and str(rid) else str(position)


def _hf_dataset(folder: Path, split: str) -> tuple[Iterator[tuple[str, dict[str, Any]]], dict[str, list[str]]]:
    if (folder / "dataset_dict.json").is_file():
        splits = json.loads((folder / "dataset_dict.json").read_text())["splits"]
        if split not in splits:
            raise ConfigError([Problem(str(folder), None, "--split", f"no split '{split}'; it has {', '.join(splits)}")])
        folder = folder / split
    if not (folder / "state.json").is_file():
        raise ConfigError([Problem(str(folder), None, "INPUT", "not a dataset saved with save_to_disk (no state.json)")])
    files = [folder / f["filename"] for f in json.loads((folder / "state.json").read_text())["_data_files"]]
    info = folder / "dataset_info.json"
    features = json.loads(info.read_text()).get("features", {}) if info.is_file() else {}
    names = {col: spec["names"] for col, spec in features.items()
             if isinstance(spec, dict) and spec.get("_type") == "ClassLabel" and "names" in spec}

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        n = 0
        for file in files:
            with pa.memory_map(str(file), "r") as source:
                for batch in pa.ipc.open_stream(source):
                    for rec in batch.to_pylist():
                        yield _rid(rec, n), rec
                        n += 1
    return rows(), names


def format_file(src: Path, dst: Path, *, task: str, seed: int = 0, inverted: bool = True,
                field_map: dict[str, str] | None = None, split: str = "train", library: Path | None = None,
                label_names: list[str] | None = None) -> dict[str, int]:
    tasks = load_library(library)
    if task not in tasks:
        raise ConfigError([Problem("", None, "--task", f"unknown task '{task}'; the library has {', '.join(tasks)}")])
    records, names = read_dataset(src, split=split)
    fmt = Formatter(tasks[task], seed=seed, inverted=inverted, field_map=dict(field_map or {}), label_names=names)
    if label_names:
        fmt.label_names[fmt.field_map.get("label", "label")] = label_names
    out = []
    first: dict[str, Any] | None = None
    for rid, rec in records:
        fmt.counts["read"] += 1
        if first is None and isinstance(rec, dict):
            first = rec
        formatted = fmt.format(rec, rid) if isinstance(rec, dict) else None
        if formatted is not None:
            out.append(formatted)
        elif not isinstance(rec, dict):
            fmt.counts["skipped.not_an_object"] += 1
    missing = sorted(k.split("_", 1)[1] for k in fmt.counts if k.startswith("skipped.missing_"))
    if not out and missing and first is not None:  # every record skipped: the mapping is wrong, not the data

        name = missing[0]
        column = fmt.field_map.get(name, name)
        close = difflib.get_close_matches(column, list(first), n=1)
        raise ConfigError([Problem(str(src), None, "--field", f"no record has task field '{name}' (column '{column}'"
                                   + (f"; did you mean '{close[0]}'?" if close else "") + f"; columns: "
                                   f"{', '.join(sorted(first))}); map it with --field {name}=COLUMN")])
    write_records(dst, out)
    fmt.counts["written"] = len(out)
    return dict(sorted(fmt.counts.items()))
