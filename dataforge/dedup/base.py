"""The map -> reduce -> apply -> commit logic shared by exact and MinHash dedup."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xxhash

from pydantic import Field

from ..document import Document
from ..errors import DataforgeError
from ..io import atomic_write_text
from ..paths import AbsolutePath
from ..stage import Barrier, P, Params, Recorder, ReduceContext, TaskContext, safe_name
from .buckets import band_edges, read_edges
from .clusters import KeepPolicy, resolve
from .generations import Generations
from .index import DedupIndex
from .runs import SignatureFileError, read_header
from .unionfind import UnionFind
from .store import Batch, SigReader, Store, StoreWriter, id_hash, read_drop_list, verify_store, write_drop_list

log = logging.getLogger(__name__)
RESULT = "result.json"
_BATCH = 256  # documents signed per numpy call


class DedupStreamError(DataforgeError):
    """apply saw a different document stream than map (the runner must replay it in order)."""


class DedupBarrier(Barrier[P]):
    """Subclasses set ``clusters_file`` and implement ``bands``, ``fmt`` and ``sign``."""

    clusters_file: ClassVar[str] = "dedup/clusters.parquet"

    # ---- what subclasses provide -------------------------------------------------
    @property
    def bands(self) -> int:
        raise NotImplementedError

    def fmt(self, seed: int) -> dict[str, Any]:
        """Everything that must match for two runs' records to be comparable (index check);
        ``seed`` is the run's seed (a stage option may override it)."""
        raise NotImplementedError

    def sign(self, docs: list[Document], rec: Recorder, seed: int) -> Batch:
        raise NotImplementedError

    def verify_jaccard(self) -> float | None:
        """Keep a candidate pair only if its estimated Jaccard reaches this (None: keep all)."""
        return None

    @property
    def p(self) -> Any:
        return self.params

    # ---- map: per task --------------------------------------------------------------
    def map(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        seed = ctx.run.seed
        rec = Recorder(ctx)
        writer = StoreWriter(ctx.stage_dir, bands=self.bands, spill_docs=self.p.buffer_docs,
                             extra={"task_id": ctx.task_id, "format": self.fmt(seed)})
        batch: list[Document] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == _BATCH:
                writer.add(self.sign(batch, rec, seed))
                yield from batch
                batch = []
        if batch:
            writer.add(self.sign(batch, rec, seed))
            yield from batch
        writer.close()

    # ---- reduce: once, in the driver ------------------------------------------------
    def _index(self) -> DedupIndex | None:
        return DedupIndex(Path(self.p.index)) if self.p.index else None

    def index_paths(self) -> list[Path]:
        return [Path(self.p.index)] if self.p.index else []

    def reduce(self, ctx: ReduceContext) -> None:
        index = self._index()
        fmt = self.fmt(ctx.run.seed)
        gens = index.generations(fmt, output=ctx.run.owner, own=ctx.run.append) if index else []
        stores = [Store.open(g, None) for g in gens]
        n_index = len(stores)
        stores += [Store.open(sd, td) for sd, td in zip(ctx.stage_dirs(), ctx.task_dirs)]
        self._verify(stores, ctx)
        offsets = np.cumsum([0] + [s.docs for s in stores]).astype(np.int64)
        work = ctx.barrier_dir / "_edges"
        work.mkdir(parents=True, exist_ok=True)
        jobs = [([(str(r), int(off)) for s, off in zip(stores, offsets) for r in s.band_runs(b)],
                 self.p.merge_buffer, str(work / f"band_{b:03d}.edges")) for b in range(self.bands)]
        edges = ctx.executor.map(band_edges, jobs)
        uf = UnionFind(int(offsets[-1]))
        min_jaccard = self.verify_jaccard()
        sig_reader = SigReader(stores, offsets) if min_jaccard is not None else None
        for b in range(self.bands):
            for u, v in read_edges(work / f"band_{b:03d}.edges", self.p.merge_buffer):
                if sig_reader is not None:
                    ok = sig_reader.jaccard(u, v) >= min_jaccard
                    ctx.stats.add(ctx.label, "_all", "candidates_rejected", int((~ok).sum()))
                    u, v = u[ok], v[ok]
                uf.union(u, v)
        roots = uf.roots()
        res = resolve(stores, offsets, roots, n_index=n_index, policy=self.p.keep, sources=ctx.run.sources,
                      out=ctx.publish_dir / self.clusters_file, slice_size=max(1, self.p.merge_buffer // 4),
                      spill_dir=work)
        del uf, roots
        dropped = 0
        drop_dir = ctx.barrier_dir / "drop"
        for s in sorted(res.dropped_stores):
            d = res.drops(s)
            write_drop_list(drop_dir / f"{safe_name(stores[s].meta['task_id'])}.npy", d["pos"] - offsets[s], d["idhash"])
            dropped += len(d)
        for (src, key), n in sorted(res.counts.items()):
            ctx.stats.add(ctx.label, src, key, n)
        for f in work.iterdir():
            f.unlink()
        summary = {"docs": int(offsets[-1] - offsets[n_index]), "index_docs": int(offsets[n_index]),
                   "clusters": res.clusters, "dropped": dropped, "edges": int(sum(edges)), "format": fmt,
                   "stores": [[str(s.folder), str(s.task_dir)] for s in stores[n_index:]]}
        atomic_write_text(ctx.barrier_dir / RESULT, json.dumps(summary, indent=1, sort_keys=True))
        log.info("%s: %d documents, %d clusters, %d dropped", ctx.label, summary["docs"], res.clusters, dropped)

    def _verify(self, stores: list[Store], ctx: ReduceContext) -> None:
        jobs = [(str(s.folder), str(s.task_dir) if s.task_dir else None) for s in stores]
        bad = [(p, r, s.task_dir) for s, probs in zip(stores, ctx.executor.map(verify_store, jobs))
               for p, r in probs]
        if bad:
            (path, reason, tdir), more = bad[0], [(p, r, str(t) if t else None) for p, r, t in bad[1:]]
            raise SignatureFileError(path, reason, task_dir=tdir, more=more)

    # ---- apply: per task of the next phase ----------------------------------------
    def apply(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        bdir = self.barrier_dir(ctx)
        if not (bdir / RESULT).exists():
            raise DataforgeError(f"{bdir / RESULT}: dedup result missing; rerun the pipeline so the reduce runs")
        rec = self.recorder(ctx)
        drop = read_drop_list(bdir / "drop" / f"{safe_name(ctx.task_id)}.npy")
        pos, hashes = drop["pos"], drop["idhash"]
        j = 0
        for i, doc in enumerate(docs):
            if j < len(pos) and pos[j] == i:
                if id_hash(doc.id) != int(hashes[j]):
                    raise DedupStreamError(
                        f"{ctx.label}: task {ctx.task_id}: document {i} is {doc.id!r}, not the one the "
                        "dedup reduce dropped; apply must see the documents map saw, in the same order")
                j += 1
                rec.dropped(doc, "duplicate")
                continue
            yield doc
        rec.close()

    # ---- commit: once, after the run succeeded ------------------------------------
    def commit(self, ctx: ReduceContext) -> dict[str, Any] | None:
        index = self._index()
        if index is None:
            return None
        pairs = list(zip(ctx.stage_dirs(), ctx.task_dirs))
        if not pairs:  # the runner's commit context may not list the tasks: reduce recorded them
            result = json.loads((self.barrier_dir(ctx) / RESULT).read_text())
            pairs = [(Path(sd), Path(td)) for sd, td in result["stores"]]
        stores = [Store.open(sd, td) for sd, td in pairs]
        drops = [read_drop_list(self.barrier_dir(ctx) / "drop" / f"{safe_name(s.meta['task_id'])}.npy")["pos"]
                 for s in stores]
        # the same run committed twice (a crash after commit) must not add a generation twice
        h = xxhash.xxh3_64(f"{ctx.run.work_dir}:{ctx.label}".encode())
        for s in stores:
            h.update(json.dumps([s.meta["task_id"], s.docs, [read_header(r)[1] for r in s.band_runs(0)]]).encode())
        run_key = h.hexdigest()
        index.add_generation(stores, drops, fmt=self.fmt(ctx.run.seed), run_key=run_key, output=ctx.run.owner,
                             buffer=self.p.merge_buffer)
        return {"index": str(Path(self.p.index).resolve()), "run": run_key}

    def confirm(self, ctx: ReduceContext, token: dict[str, Any]) -> None:
        Generations(Path(token["index"])).confirm(token["run"], output=ctx.run.owner, replace_own=not ctx.run.append)


class DedupParams(Params):
    """Options both dedup barriers share."""

    # which document of a cluster survives: "first" (source priority from the pipeline
    # file, then id), "longest" text, or highest meta.quality (issue 4)
    keep: KeepPolicy = "first"
    # signed documents a task holds before writing a sorted spill (map memory: ~12 B x
    # bands each, plus the sort's copy); our choice, a few hundred MB at 14 bands
    # (bounds: at least one; 2**26 is already ~11 GB at 14 bands)
    buffer_docs: int = Field(200_000, ge=1, le=1 << 26)
    # the reduce's memory knob (see dataforge/dedup/__init__.py): band records held across
    # a band merge's runs (~40 B each), edges per union-find chunk (16 B), and /4 the
    # cluster members resolved per slice (~1 KB each); our choice, ~30 MB in all
    # (bounds: a merge holds at least one record; 2**26 records is ~2.7 GB)
    merge_buffer: int = Field(65_536, ge=1, le=1 << 26)
    # folder of the cross-run index: dedup against everything earlier runs kept; updated
    # only when this run succeeds (issue 4). None = no index.
    index: AbsolutePath | None = None
    # removed duplicates kept per task for inspection under rejected/<stage>/ (see FilterParams)
    sample_rejected: int = Field(3, ge=0)
