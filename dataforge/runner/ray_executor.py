"""The Ray executor: the same tasks and barriers as the local one, as Ray tasks.

Tasks are the same top-level functions the local executor runs. What keeps Ray at the
local executor's speed:

- **Reused, warm workers.** Ray reuses a worker process for every task of the run (no
  ``max_calls``), so imports, fastText models (``load_model`` caches per process) and
  the word-split tables are paid once per worker, not per task. Right after connecting,
  one warm-up call per CPU of the cluster (spread over the nodes) sets the worker
  defaults and imports every stage and reader module while the driver is still planning.
- **Small tasks batched.** Tasks go out through a window of a few calls per CPU; each
  call runs a batch of tasks, sized from the task seconds measured so far so that a
  call lasts about ``BATCH_SECONDS`` (Ray's per-call cost, ~2 ms, then stays under 1%),
  and never so big that the tail of a phase leaves CPUs idle. Results stay per task:
  each task commits its own marker, so a batch that dies is retried whole and the
  tasks it had committed return their stats from disk.

Each call is submitted with the CPUs and memory the pipeline file declares, retried by
Ray a bounded number of times when its worker dies, and results come back in argument
order, so the output is byte-identical to a local run. Task outputs go to the output
(or staging) directory, which every node must see at the same path.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import registry
from ..errors import ConfigError, DataforgeError
from . import task  # noqa: F401  (a worker that loads this module loads the task runner: warm_worker)
from .executor import ExecutorProfile, Measure, TaskFailed, timed_call, worker_env

log = logging.getLogger(__name__)

#: target seconds of one remote call: Ray's per-call overhead measured at ~1.7 ms here
#: (benchmarks/results/scale.md, per-task overhead) is then under 1% of it (our choice)
BATCH_SECONDS = 0.25
#: at most this many tasks in one remote call (bounds what one retry redoes)
MAX_BATCH = 256
#: remote calls in flight per CPU: one running, one queued, so no CPU waits on the driver
CALLS_PER_CPU = 2


def run_batch(fn: Callable[..., Any], batch: Sequence[tuple[Any, ...]], cwd: str | None = None
              ) -> list[tuple[Measure, Any]]:
    """In a Ray worker: ``fn(*args)`` for each args of the batch, with what it cost (timed_call).
    ``cwd`` is the driver's working directory: relative paths of the pipeline file (inputs,
    tokenizer, models) mean there what they mean in the driver, wherever the cluster was started
    (the cluster shares the driver's filesystem at the same paths: check_shared)."""
    worker_env()
    if cwd and os.path.isdir(cwd) and os.getcwd() != cwd:
        os.chdir(cwd)
    return [timed_call(fn, a) for a in batch]


def warm_worker() -> int:
    """In a Ray worker: set the worker defaults and import every stage and reader module
    (the first task then starts warm). Returns the pid, for tests."""
    worker_env()
    for table in (registry.STAGES, registry.READERS):
        registry.available(table)
    return os.getpid()


def sees_folder(path: str) -> tuple[str, bool]:
    """In a Ray worker: (this node's address, whether ``path`` is a folder here)."""
    import ray  # deferred: ray is the [ray] extra (this module imports without it)

    return ray.util.get_node_ip_address(), os.path.isdir(path)


def batch_size(*, per_task: float | None, remaining: int, cpus: int) -> int:
    """Tasks in the next remote call: 1 until a task was timed, then enough for about
    ``BATCH_SECONDS``, capped so the remaining tasks still spread over every CPU."""
    if per_task is None or math.isnan(per_task) or remaining <= 0:
        return 1
    want = BATCH_SECONDS / max(per_task, 1e-6)
    spread = remaining / (CALLS_PER_CPU * max(1, cpus))
    return max(1, min(MAX_BATCH, int(want), math.ceil(spread)))


class RayExecutor:
    def __init__(self, *, address: str | None, max_retries: int = 2, cpus_per_task: float = 1.0,
                 memory_per_task: int | None = None, num_cpus: int | None = None, warm: bool = True) -> None:
        try:
            import ray  # deferred: ray is the [ray] extra, refused here with a message when missing
        except ImportError:
            raise ConfigError("executor.kind: ray needs the 'ray' extra: pip install 'dataforge[ray]'") from None
        self._ray = ray
        self._started = False
        t0 = time.perf_counter()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False,
                                      "include_dashboard": False, "logging_level": logging.WARNING}
            if address:
                _check_reachable(address)
                kwargs["address"] = address
            elif num_cpus:
                kwargs["num_cpus"] = num_cpus
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError) as exc:
                raise DataforgeError(f"executor.address: cannot connect to a Ray cluster at {address!r} ({exc}); "
                                     "start one with 'ray start --head' or leave address unset for a local one") from None
            self._started = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self.cpus_per_task = cpus_per_task
        self.options: dict[str, Any] = {"num_cpus": cpus_per_task, "max_retries": max_retries,
                                        "retry_exceptions": False}
        if memory_per_task:
            self.options["memory"] = memory_per_task
        self.profile = ExecutorProfile(kind="ray", workers=self.workers, startup=time.perf_counter() - t0)
        self._batch = ray.remote(run_batch).options(**self.options)
        self._cwd = os.getcwd()
        self._warming = self.warm_up() if warm else []

    @property
    def slots(self) -> int:
        """Tasks the cluster runs at once."""
        return max(1, int(self.workers / self.cpus_per_task))

    def warm_up(self) -> list[Any]:
        """One warm-up call per slot, spread over the nodes; not waited for (a task
        submitted meanwhile queues behind it on a warm worker)."""
        warm = self._ray.remote(warm_worker).options(num_cpus=self.cpus_per_task, max_retries=0,
                                                     scheduling_strategy="SPREAD")
        return [warm.remote() for _ in range(self.slots)]

    def check_shared(self, folder: str | Path) -> None:
        """Refuse to run when a node of the cluster does not see ``folder`` (the output or
        staging folder, which tasks write and the next phase reads): one call pinned to
        each alive node."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # deferred: the [ray] extra

        ray = self._ray
        probe = ray.remote(sees_folder)
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
        refs = [probe.options(num_cpus=0, max_retries=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
            n["NodeID"], soft=False)).remote(str(folder)) for n in nodes]
        blind = sorted(ip for ip, seen in ray.get(refs) if not seen)
        if blind:
            raise ConfigError(f"{folder}: not visible on Ray node(s) {', '.join(blind)}; tasks write there and the "
                              "next phase reads it: put the output (or, for an object-store output, the "
                              "staging: folder) on a file system every node mounts at the same path")

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]],
            on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
        t0 = time.perf_counter()
        measured: list[Measure] = [(0.0, 0.0, 0)] * len(args)
        calls = [0]
        try:
            return self._map(fn, args, on_done, measured, calls)
        finally:
            self.profile.add(fn, time.perf_counter() - t0, measured, batches=calls[0])

    def _map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]],
             on_done: Callable[[int, Any], None] | None, measured: list[Measure],
             calls: list[int]) -> list[Any]:
        ray = self._ray
        fn_ref = ray.put(fn)  # exported once per map call, not once per batch
        results: list[Any] = [None] * len(args)
        inflight: dict[Any, range] = {}
        nxt, timed, spent = 0, 0, 0.0
        try:
            while nxt < len(args) or inflight:
                while nxt < len(args) and len(inflight) < CALLS_PER_CPU * self.slots:
                    n = batch_size(per_task=spent / timed if timed else None, remaining=len(args) - nxt,
                                   cpus=self.slots)
                    idx = range(nxt, min(len(args), nxt + n))
                    inflight[self._batch.remote(fn_ref, [args[i] for i in idx], self._cwd)] = idx
                    calls[0] += 1
                    nxt = idx.stop
                done, _ = ray.wait(list(inflight), num_returns=1)
                for ref in done:
                    idx = inflight.pop(ref)
                    for i, (cost, result) in zip(idx, self._get(ref, idx)):
                        measured[i], results[i] = cost, result
                        timed, spent = timed + 1, spent + cost[0]
                        if on_done:
                            on_done(i, result)
        except BaseException:
            self._cancel(list(inflight))
            raise
        return results

    def _get(self, ref: Any, idx: range) -> list[tuple[Measure, Any]]:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
            which = f"task {idx.start}" if len(idx) == 1 else f"tasks {idx.start}-{idx.stop - 1} (one batch)"
            raise TaskFailed(f"{which} failed after {self.options['max_retries']} retries: {exc}") from None

    def _cancel(self, pending: list[Any]) -> None:
        """On a cluster that outlives this run, tasks still running would go on writing into
        the output after the run released its lock: stop them before raising."""
        ray = self._ray
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished or gone
                continue
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=10)

    def close(self, *, abort: bool = False) -> None:
        if self._started:
            t0 = time.perf_counter()
            self._ray.shutdown()
            self._started = False
            self.profile.shutdown = time.perf_counter() - t0
        self.profile.close()


def _check_reachable(address: str) -> None:
    """Fail fast with a clear message on a host:port nobody listens on (Ray itself waits, then exits)."""
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise DataforgeError(f"executor.address: cannot connect to a Ray cluster at {address!r} ({exc.strerror or exc}); "
                             "start one with 'ray start --head' or leave address unset for a local one") from None
