"""Small helpers shared by tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def stats_counts(out: Path) -> dict[str, Any]:
    """The counters of an output's stats.json: {label: {source: {key: n}}}."""
    data = json.loads((Path(out) / "stats.json").read_text())
    return data["counts"] if "counts" in data else data
