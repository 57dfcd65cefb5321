"""From component roots to keepers, drop lists, ``clusters.parquet`` and cluster stats.

Members of multi-document components are handled in slices of whole components; each
slice reads its members' rows by positioned reads and appends its drops to one spill
file per store (sorted into the store's drop list afterwards), so memory follows the
slice size. What grows with the corpus: the list of clustered ids (~16 B each, see
``unionfind.clustered``) and, at the end, one store's drops at a time (16 B each).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .store import DROP_DTYPE, Store, id_hash
from .unionfind import clustered

KeepPolicy = Literal["first", "longest", "quality"]
CLUSTERS_SCHEMA = pa.schema([
    ("cluster_id", pa.int64()), ("size", pa.int64()), ("keeper", pa.string()),
    ("keeper_source", pa.string()), ("members", pa.list_(pa.string())),
    ("removed", pa.list_(pa.string())), ("jaccard", pa.list_(pa.float32())),
])


@dataclass
class Gathered:
    """Attributes of a set of global document ids (rows align with ``gids``)."""

    gids: np.ndarray
    ids: np.ndarray  # str objects
    sources: np.ndarray
    length: np.ndarray
    quality: np.ndarray
    from_index: np.ndarray
    sigs: np.ndarray | None


def gather(stores: list[Store], offsets: np.ndarray, gids: np.ndarray, n_index: int) -> Gathered:
    """Read the docs-table rows (and signatures) of ``gids`` from their stores."""
    n = len(gids)
    which = np.searchsorted(offsets, gids, side="right") - 1
    ids = np.empty(n, dtype=object)
    sources = np.empty(n, dtype=object)
    length = np.zeros(n, dtype=np.int64)
    quality = np.full(n, math.nan)
    sigs: np.ndarray | None = None
    for s in np.unique(which):
        rows = np.flatnonzero(which == s)
        local = gids[rows] - offsets[s]
        recs = stores[s].doc_rows(local)
        ids[rows] = stores[s].ids(recs)
        sources[rows] = stores[s].source_names(recs)
        length[rows] = recs["length"]
        quality[rows] = recs["quality"]
        sg = stores[s].sig_rows(local)
        if sg is not None:
            if sigs is None:
                sigs = np.zeros((n, sg.shape[1]), dtype=np.uint32)
            sigs[rows] = sg
    return Gathered(gids, ids, sources, length, quality, which < n_index, sigs)


def keeper_order(g: Gathered, roots: np.ndarray, *, policy: KeepPolicy, sources: list[str]) -> np.ndarray:
    """Order of members: by component, then keeper preference (best first).

    Documents already in the cross-run index come first (they were published by an
    earlier run), then the policy, then source priority (pipeline-file order), then id.
    """
    rank = {s: i for i, s in enumerate(sources)}
    src_rank = np.array([rank.get(s, len(sources)) for s in g.sources], dtype=np.int64)
    # rank ids as Python strings: a fixed-width unicode copy would cost 4 B x the longest id per member
    id_rank = np.unique(g.ids, return_inverse=True)[1] if len(g.ids) else np.zeros(0, np.int64)
    if policy == "longest":
        pref = -g.length.astype(np.float64)
    elif policy == "quality":
        pref = np.where(np.isnan(g.quality), math.inf, -g.quality)
    else:
        pref = np.zeros(len(g.gids))
    return np.lexsort((id_rank, src_rank, pref, ~g.from_index, roots))


def size_bucket(size: int) -> str:
    """Power-of-two buckets for cluster-size stats: 2, 3-4, 5-8, 9-16, ..."""
    hi = 1 << max(1, (size - 1).bit_length())
    lo = hi // 2 + 1
    return str(hi) if lo == hi else f"{lo}-{hi}"


@dataclass
class ClusterResult:
    spill_dir: Path  # store_SSSSSS.drops: DROP_DTYPE records (global ids), in slice order
    dropped_stores: set[int] = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)  # (source, key) -> n
    clusters: int = 0

    def spill(self, store: int) -> Path:
        return self.spill_dir / f"store_{store:06d}.drops"

    def add_drops(self, store: int, gids: np.ndarray, ids: np.ndarray) -> None:
        rec = np.empty(len(gids), dtype=DROP_DTYPE)
        rec["pos"] = gids
        rec["idhash"] = [id_hash(i) for i in ids]
        with open(self.spill(store), "ab") as fh:
            fh.write(rec.tobytes())
        self.dropped_stores.add(store)

    def drops(self, store: int) -> np.ndarray:
        """The store's drops sorted by global id (one store in memory at a time)."""
        rec = np.fromfile(self.spill(store), dtype=DROP_DTYPE)
        return rec[np.argsort(rec["pos"], kind="stable")]


def resolve(stores: list[Store], offsets: np.ndarray, roots: np.ndarray, *, n_index: int,
            policy: KeepPolicy, sources: list[str], out: Path, slice_size: int, spill_dir: Path) -> ClusterResult:
    """Pick keepers, spill drops per store and write ``out`` (clusters.parquet, atomically)."""
    spill_dir.mkdir(parents=True, exist_ok=True)
    for f in spill_dir.glob("store_*.drops"):  # left by a reduce that was killed
        f.unlink()
    res = ClusterResult(spill_dir)
    multi = clustered(roots)
    tmp = out.with_name(f".{out.name}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(tmp, CLUSTERS_SCHEMA) as writer:
        start = 0
        while start < len(multi):
            stop = min(start + slice_size, len(multi))
            while stop < len(multi) and roots[multi[stop]] == roots[multi[stop - 1]]:
                stop += 1  # never split a component
            _resolve_slice(stores, offsets, roots, multi[start:stop], n_index=n_index, policy=policy,
                           sources=sources, res=res, writer=writer)
            start = stop
    tmp.replace(out)
    return res


def _resolve_slice(stores: list[Store], offsets: np.ndarray, roots: np.ndarray, gids: np.ndarray, *,
                   n_index: int, policy: KeepPolicy, sources: list[str], res: ClusterResult,
                   writer: pq.ParquetWriter) -> None:
    g = gather(stores, offsets, gids, n_index)
    r = roots[gids]
    order = keeper_order(g, r, policy=policy, sources=sources)
    r = r[order]
    bounds = np.flatnonzero(np.r_[True, r[1:] != r[:-1], True])
    rows: dict[str, list] = {k: [] for k in CLUSTERS_SCHEMA.names}
    dropped: list[np.ndarray] = []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        members = order[a:b]
        keeper, others = members[0], members[1:]
        others = others[~g.from_index[others]]  # earlier runs' docs are not in this run
        if g.sigs is not None and len(others):
            jac = (g.sigs[others] == g.sigs[keeper]).mean(axis=1).astype(np.float32)
        else:
            jac = np.ones(len(others), dtype=np.float32)
        ksrc = g.sources[keeper]
        res.clusters += 1
        res.counts[ksrc, "clusters"] += 1
        res.counts[ksrc, f"cluster_size.{size_bucket(b - a)}"] += 1
        for o in others:
            key = "duplicates.of_index" if g.from_index[keeper] else "duplicates"
            res.counts[g.sources[o], key] += 1
        dropped.append(others)
        rows["cluster_id"].append(int(g.gids[members].min()))
        rows["size"].append(int(b - a))
        rows["keeper"].append(g.ids[keeper])
        rows["keeper_source"].append(ksrc)
        rows["members"].append(list(g.ids[members]))
        rows["removed"].append(list(g.ids[others]))
        rows["jaccard"].append(jac.tolist())
    writer.write_table(pa.table(rows, schema=CLUSTERS_SCHEMA))
    if dropped:
        sel = np.concatenate(dropped)
        which = np.searchsorted(offsets, g.gids[sel], side="right") - 1
        for s in np.unique(which).tolist():
            res.add_drops(s, g.gids[sel[which == s]], g.ids[sel[which == s]])
