"""Counters that merge by sum, so stats are the same from one process or a cluster."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

# stats[stage_label][source][key] -> number. Keys: docs_in, docs_out, bytes_in, bytes_out,
# seconds, dropped.<reason>, skipped.<reason>, or any counter a stage defines.
Counts = dict[str, dict[str, dict[str, float]]]


class Stats:
    """Per-stage, per-source counters; merge by sum."""

    def __init__(self, counts: Counts | None = None) -> None:
        self.counts: defaultdict[str, defaultdict[str, defaultdict[str, float]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(float))
        )
        if counts:
            self.merge_dict(counts)

    def add(self, stage: str, source: str, key: str, n: float = 1) -> None:
        self.counts[stage][source][key] += n

    def get(self, stage: str, key: str, source: str | None = None) -> float:
        per_source = self.counts.get(stage, {})
        if source is not None:
            return per_source.get(source, {}).get(key, 0)
        return sum(c.get(key, 0) for c in per_source.values())

    def merge(self, other: "Stats") -> None:
        self.merge_dict(other.to_dict())

    def merge_dict(self, counts: Counts) -> None:
        for stage, per_source in counts.items():
            for source, keys in per_source.items():
                for key, n in keys.items():
                    self.counts[stage][source][key] += n

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts with sorted keys; integers stay integers."""
        out: dict[str, Any] = {}
        for stage in self.counts:  # insertion order = pipeline order
            out[stage] = {
                source: {k: _num(v) for k, v in sorted(keys.items())}
                for source, keys in sorted(self.counts[stage].items())
            }
        return out

    def totals(self, stage: str) -> dict[str, float]:
        """One stage's counters summed over sources."""
        total: defaultdict[str, float] = defaultdict(float)
        for keys in self.counts.get(stage, {}).values():
            for k, v in keys.items():
                total[k] += v
        return dict(total)

    def to_json_file(self, path: Path) -> None:
        from .io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Stats":
        return cls(json.loads(Path(path).read_text()))


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 6)
