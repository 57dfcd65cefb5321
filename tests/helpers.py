"""Small helpers shared by tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def stats_counts(out: Path) -> dict[str, Any]:
    """The counters of an output's stats.json: {label: {source: {key: n}}}."""
    data = json.loads((Path(out) / "stats.json").read_text())
    return data["counts"] if "counts" in data else data


def write_pipeline(path: Path, *, output: Path | str, inputs: dict[str, dict[str, Any]], stages: list[Any],
                   **top: Any) -> Path:
    """Write a pipeline file from Python values (YAML by the safe dumper), so tests say what
    they configure instead of copying a template. Returns ``path``."""
    import yaml

    doc = {**top, "output": str(output), "inputs": inputs, "stages": stages}
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))
    return Path(path)
