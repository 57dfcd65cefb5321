"""Counters that merge by sum, so stats are the same from one process or a cluster."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .io import atomic_write_text

# stats[stage_label][source][key] -> number. Keys: docs_in, docs_out, bytes_in, bytes_out,
# seconds, dropped.<reason>, skipped.<reason>, hist.<name>.<bin> (a histogram: bins are
# counters too, so they merge by sum like the rest), or any counter a stage defines.
Counts = dict[str, dict[str, dict[str, float]]]

HIST = "hist."
DROPPED = "dropped."
SKIPPED = "skipped."
DOCS_IN, DOCS_OUT, BYTES_IN, BYTES_OUT, SECONDS = "docs_in", "docs_out", "bytes_in", "bytes_out", "seconds"
#: the pseudo-source of counters that belong to no source (a stage's seconds)
ALL = "*"
#: per-language funnel: documents of language L (meta.lang) into and out of a stage
LANG_IN, LANG_OUT = "lang_in.", "lang_out."


def language_losses(counts: dict[str, dict[str, dict[str, float]]], labels: list[str], *, share: float,
                    min_docs: int) -> list[dict[str, Any]]:
    """Stages that dropped more than ``share`` of a language's documents (of at least
    ``min_docs`` that reached them): [{stage, lang, docs_in, kept, dropped_share}]."""
    out = []
    for label in labels:
        totals: dict[str, list[float]] = {}
        for keys in counts.get(label, {}).values():
            for k, v in keys.items():
                if k.startswith(LANG_IN):
                    totals.setdefault(k[len(LANG_IN):], [0.0, 0.0])[0] += v
                elif k.startswith(LANG_OUT):
                    totals.setdefault(k[len(LANG_OUT):], [0.0, 0.0])[1] += v
        for lang, (n_in, n_out) in sorted(totals.items()):
            if n_in >= min_docs and 1 - n_out / n_in > share:
                out.append({"stage": label, "lang": lang, "docs_in": int(n_in), "kept": int(n_out),
                            "dropped_share": round(1 - n_out / n_in, 4)})
    return out


def dropped_key(reason: str) -> str:
    """The counter of documents a stage dropped for ``reason``."""
    return DROPPED + reason


def skipped_key(reason: str) -> str:
    """The counter of records a reader skipped for ``reason``."""
    return SKIPPED + reason


def hist_key(name: str, bin_: int) -> str:
    """The counter of histogram ``name``'s bin ``bin_`` (bins merge by sum like any counter)."""
    return f"{HIST}{name}.{bin_}"


def reasons(keys: dict[str, float]) -> dict[str, float]:
    """Drop and skip reasons among one stage's counters: reason -> count."""
    return {k.split(".", 1)[1]: v for k, v in keys.items() if k.startswith((DROPPED, SKIPPED))}


def histogram(keys: dict[str, float], name: str) -> dict[int, float]:
    """Histogram ``name`` among one stage's counters: bin -> count."""
    prefix = f"{HIST}{name}."
    return {int(k[len(prefix):]): v for k, v in keys.items()
            if k.startswith(prefix) and k[len(prefix):].isdigit()}
UNIT_BINS = 20  # histograms of scores in [0, 1]: bins of width 0.05


def unit_bin(value: float) -> int:
    """The bin of a score in [0, 1] (values outside are clamped)."""
    return min(max(int(value * UNIT_BINS), 0), UNIT_BINS - 1)


# histograms of probabilities that pile up near 0 or 1 (a quality classifier's): bins of
# width 1 in log-odds over [-12, 12), i.e. probabilities from 6e-6 to 1 - 6e-6 (clamped)
LOGIT_LOW, LOGIT_BINS = -12, 24


def logit_bin(p: float) -> int:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return min(max(math.floor(math.log(p / (1 - p))) - LOGIT_LOW, 0), LOGIT_BINS - 1)


def logit_bin_edge(b: int) -> float:
    """The probability at the lower edge of log-odds bin ``b``."""
    return 1 / (1 + math.exp(-(b + LOGIT_LOW)))


def size_bin(n: int) -> int:
    """The half-octave bin of a size: bin b holds [size_bin_edge(b), size_bin_edge(b + 1)).

    Edges run 0, 2, 3, 4, 6, 8, 12, 16, 24, ...: each octave split at 1.5x, fine enough to
    see a length distribution from a 10-byte stub to a 10-MB book in about 48 bins."""
    if n < 2:
        return 0
    bits = n.bit_length()
    return 2 * (bits - 1) + ((n >> (bits - 2)) & 1)


def size_bin_edge(b: int) -> int:
    """The smallest size in bin ``b`` (see ``size_bin``)."""
    if b <= 1:
        return 0 if b <= 0 else 2  # bin 1 is empty: sizes 0 and 1 share bin 0
    octave = 1 << (b // 2)
    return octave + (octave >> 1 if b % 2 else 0)


def stage_order(label: str) -> tuple[int, str]:
    """Sort key of stage labels: read first, then "<index>:<name>" by index, then the rest (pack)."""
    head = label.split(":", 1)[0]
    if label == "read":
        return (-1, label)
    return (int(head) if head.isdigit() else 10**6, label)


#: what a stage is, in the ``stages`` table of stats.json (the report reads it, never guesses)
KINDS = ("reader", "stage", "filter", "barrier", "mix", "tokenizer", "tokenize", "pack", "train")
#: the label the pack step's counters are filed under (the report assumes it for format-1 stats,
#: which have no stages table)
PACK_LABEL = "pack"
STATS_FORMAT = 2


def stage_row(label: str, name: str, kind: str, folder: str, sources: list[str] | None = None) -> dict[str, Any]:
    """One row of the ``stages`` table: the label counters are filed under, the stage's
    registry name, its kind, the folder its side files use (rejected/<folder>/...), and
    the sources it runs on (None: all)."""
    if kind not in KINDS:
        raise ValueError(f"unknown stage kind {kind!r}")
    return {"label": label, "name": name, "kind": kind, "folder": folder, "sources": sources}


class Stats:
    """Per-stage, per-source counters; merge by sum. ``stages`` describes the labels.

    On disk (``stats.json``): ``{"format": 2, "stages": [rows], "counts": {label:
    {source: {key: n}}}}``; files of format 1 (the counts alone) still load."""

    def __init__(self, counts: Counts | None = None, stages: list[dict[str, Any]] | None = None) -> None:
        self.counts: defaultdict[str, defaultdict[str, defaultdict[str, float]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(float))
        )
        self.stages: list[dict[str, Any]] = list(stages or [])
        self.notes: dict[str, Any] = {}  # run-level findings written beside the counts (language_losses)
        if counts:
            self.merge_dict(counts)

    def order(self) -> list[str]:
        """Labels with counters: in the stages table's order, then any others (read first)."""
        known = [r["label"] for r in self.stages if r["label"] in self.counts]
        rest = sorted((lab for lab in self.counts if lab not in known), key=stage_order)
        return known + rest if known else rest

    def all_labels(self) -> list[str]:
        """Every stage of the stages table in pipeline order (also those with no counters of
        their own, such as mix), then any other labels with counters: the rows of a stage table."""
        known = [r["label"] for r in self.stages]
        return known + [lab for lab in self.order() if lab not in known]

    def row(self, label: str) -> dict[str, Any] | None:
        return next((r for r in self.stages if r["label"] == label), None)

    def label_of(self, kind: str) -> str | None:
        """The (last) label of a stage of this kind, from the table."""
        rows = [r["label"] for r in self.stages if r["kind"] == kind]
        return rows[-1] if rows else None

    def folder_label(self, folder: str) -> str | None:
        return next((r["label"] for r in self.stages if r["folder"] == folder), None)

    def add(self, stage: str, source: str, key: str, n: float = 1) -> None:
        self.counts[stage][source][key] += n

    def get(self, stage: str, key: str, source: str | None = None) -> float:
        per_source = self.counts.get(stage)
        if per_source is None:
            return 0
        if source is not None:
            keys = per_source.get(source)
            return keys.get(key, 0) if keys is not None else 0
        return sum(c.get(key, 0) for c in per_source.values())

    def merge(self, other: "Stats") -> None:
        self.merge_dict(other.to_dict())
        if other.stages and not self.stages:
            self.stages = list(other.stages)

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

    def to_json(self) -> dict[str, Any]:
        return {"format": STATS_FORMAT, "stages": self.stages, **self.notes, "counts": self.to_dict()}

    def to_json_file(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def from_json(cls, data: Any) -> "Stats":
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        if "format" in data and "counts" in data:
            stages = data.get("stages") or []
            if not isinstance(stages, list) or not all(isinstance(r, dict) and "label" in r for r in stages):
                raise ValueError("'stages' must be a list of rows with a label")
            out = cls(data["counts"], stages)
            out.notes = {k: v for k, v in data.items() if k not in ("format", "stages", "counts")}
            return out
        return cls(data)

    @classmethod
    def load(cls, path: Path) -> "Stats":
        return cls.from_json(json.loads(Path(path).read_text()))


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 6)
