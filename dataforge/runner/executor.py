"""Executors: where a phase's tasks run. Local worker processes by default; Ray on a cluster.

Every executor runs top-level picklable functions and returns results in argument
order, so the output never depends on which worker finished first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from concurrent.futures import Future, ProcessPoolExecutor, wait, FIRST_COMPLETED
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from ..config import ExecutorConfig
from ..errors import DataforgeError
from ..io import atomic_write_text

log = logging.getLogger(__name__)

Callback = Callable[[int, Any], None]


#: where an executor writes its profile (every map call: tasks, wall seconds, each task's
#: seconds in its worker) when it closes; read by benchmarks/bench_scale.py
PROFILE_ENV = "DATAFORGE_EXECUTOR_PROFILE"


class TaskFailed(DataforgeError):
    """A task kept failing (its worker died) after every retry."""


def worker_env() -> None:
    """Per-process defaults of every worker, local or Ray: one tokenizer thread pool per
    process (the processes are the parallelism; set before the first encode)."""
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _peak_rss(reset: bool = False) -> int:
    """This process's peak resident set (VmHWM, bytes; 0 where /proc has none); ``reset``
    starts a new peak from the current size (Linux: ``clear_refs`` 5)."""
    try:
        if reset:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            return 0
        with open("/proc/self/status") as fh:
            return next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


#: what one task cost where it ran: (wall seconds, CPU seconds, peak RSS bytes)
Measure = tuple[float, float, int]


def timed_call(fn: Callable[..., Any], args: tuple[Any, ...], *, rss: bool = True) -> tuple[Measure, Any]:
    """``fn(*args)``, with its wall and CPU seconds and the worker's peak RSS during it (the
    peak is reset first, so it is this task's; ``rss=False`` in the driver, whose own peak
    must stay). CPU seconds do not grow when other jobs share the machine; wall seconds do."""
    if rss:
        _peak_rss(reset=True)
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    return (time.perf_counter() - t0, time.process_time() - c0, _peak_rss() if rss else 0), result


@dataclass
class MapCall:
    fn: str
    wall: float  # seconds the driver spent inside this map call
    task_seconds: list[float]  # each task's own seconds in its worker, in argument order
    task_cpu: list[float]  # each task's CPU seconds in its worker
    task_rss: list[int]  # each task's peak RSS in its worker, bytes (0: not measured)
    batches: int = 0  # Ray: remote calls made (several small tasks per call)


@dataclass
class ExecutorProfile:
    """Where an executor's time went: per map call, the driver's wall time inside it and
    each task's seconds in its worker; the driver's CPU seconds from start to close.

    The serial share of a run is its wall time outside every map call; the task seconds
    give the parallel work, so a benchmark can extrapolate to more workers (Amdahl, with
    each call's longest task as its floor)."""

    kind: str
    workers: int
    calls: list[MapCall] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)
    startup: float = 0.0  # seconds to start or join the executor (Ray: init and connect)
    shutdown: float = 0.0  # seconds to stop it (Ray: shutdown of an instance it started)
    reported: bool = False

    def add(self, fn: Callable[..., Any], wall: float, tasks: list[Measure], *, batches: int = 0) -> None:
        """One map call: its wall time and what each task cost."""
        self.calls.append(MapCall(fn=getattr(fn, "__qualname__", repr(fn)), wall=wall,
                                  task_seconds=[round(t, 6) for t, _, _ in tasks],
                                  task_cpu=[round(c, 6) for _, c, _ in tasks], task_rss=[r for _, _, r in tasks],
                                  batches=batches))

    def summary(self) -> dict[str, Any]:
        in_map = sum(c.wall for c in self.calls)
        return {"kind": self.kind, "workers": self.workers, "map_calls": len(self.calls),
                "tasks": sum(len(c.task_seconds) for c in self.calls),
                "batches": sum(c.batches for c in self.calls),
                "wall": round(time.perf_counter() - self.started, 3), "wall_in_map": round(in_map, 3),
                "task_seconds": round(sum(sum(c.task_seconds) for c in self.calls), 3),
                "task_cpu": round(sum(sum(c.task_cpu) for c in self.calls), 3),
                "task_peak_rss": max((max(c.task_rss, default=0) for c in self.calls), default=0),
                "driver_cpu": round(time.process_time() - self.cpu_started, 3),
                "startup": round(self.startup, 3), "shutdown": round(self.shutdown, 3)}

    def close(self) -> None:
        """Log the summary; write the whole profile where ``$DATAFORGE_EXECUTOR_PROFILE`` says (once)."""
        if self.reported:
            return
        self.reported = True
        summary = self.summary()
        log.info("executor %(kind)s x%(workers)d: %(tasks)d tasks in %(map_calls)d map calls, %(wall_in_map).1f s "
                 "of %(wall).1f s inside them, %(task_seconds).1f s of task work, driver CPU %(driver_cpu).1f s",
                 summary)
        path = os.environ.get(PROFILE_ENV)
        if path:
            data = {**summary, "calls": [vars(c) for c in self.calls]}
            atomic_write_text(Path(path), json.dumps(data) + "\n")


def _watch_driver(pid: int) -> None:
    """Exit this worker as soon as the driver that owns it dies (killed, OOM): an orphan must
    not finish and commit a task after the output lock was released.

    A pidfd becomes readable when the process dies, even before it is reaped (a plain
    ``kill(pid, 0)`` still succeeds on a zombie); polling is the fallback elsewhere.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(70)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
        os._exit(70)
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(70)
        except PermissionError:  # the pid exists (not ours to signal): treat as alive
            continue


def _worker_init(level: int, driver_pid: int | None = None) -> None:
    # Ctrl-C reaches the whole process group: the driver decides (it stops the workers);
    # SIGTERM from the driver (abort) ends a worker at once, as by default
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if driver_pid is not None:
        threading.Thread(target=_watch_driver, args=(driver_pid,), daemon=True, name="driver-watch").start()
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    worker_env()


class LocalExecutor:
    """Runs tasks in ``workers`` processes (inline when ``workers == 1``).

    A worker that dies (OOM killer, SIGKILL) breaks the pool; the unfinished tasks are
    resubmitted to a new pool, at most ``max_retries`` times each.
    """

    def __init__(self, workers: int | None = None, *, max_retries: int = 2) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.max_retries = max_retries
        self._pool: ProcessPoolExecutor | None = None
        self.profile = ExecutorProfile(kind="local", workers=self.workers)

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_worker_init,
                                             initargs=(logging.getLogger().level, os.getpid()))
        return self._pool

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]],
            on_done: Callback | None = None) -> list[Any]:
        t0 = time.perf_counter()
        measured: list[Measure] = [(0.0, 0.0, 0)] * len(args)
        try:
            return self._map(fn, args, on_done, measured)
        finally:
            self.profile.add(fn, time.perf_counter() - t0, measured)

    def _map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]], on_done: Callback | None,
             measured: list[Measure]) -> list[Any]:
        results: list[Any] = [None] * len(args)
        if self.workers == 1 or len(args) <= 1:
            for i, a in enumerate(args):
                measured[i], results[i] = timed_call(fn, a, rss=False)  # inline, in the driver
                if on_done:
                    on_done(i, results[i])
            return results
        todo = list(range(len(args)))
        attempts = dict.fromkeys(todo, 0)
        while todo:
            pool = self._get_pool()
            futures: dict[Future[Any], int] = {pool.submit(timed_call, fn, args[i]): i for i in todo}
            suspects: list[int] = []
            todo = []
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        measured[i], results[i] = fut.result()
                    except BrokenProcessPool:
                        # every task in flight sees the break, not only the one that caused it
                        attempts[i] += 1
                        (suspects if attempts[i] > self.max_retries else todo).append(i)
                        continue
                    if on_done:
                        on_done(i, results[i])
            if todo or suspects:
                log.warning("a worker process died; retrying %d unfinished task(s) in a new pool",
                            len(todo) + len(suspects))
                self._shutdown()
            for i in sorted(suspects):  # alone in a process of its own: a death now is its own
                measured[i], results[i] = self._isolated(fn, args[i], i)
                if on_done:
                    on_done(i, results[i])
            todo.sort()
        return results

    def _isolated(self, fn: Callable[..., Any], a: tuple[Any, ...], i: int) -> Any:
        """Run one task alone, so a death is its own; up to 1 + max_retries attempts."""
        ctx = multiprocessing.get_context("forkserver")
        for _ in range(self.max_retries + 1):
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_worker_init,
                                     initargs=(logging.getLogger().level, os.getpid())) as pool:
                try:
                    return pool.submit(timed_call, fn, a).result()
                except BrokenProcessPool:
                    log.warning("task %d: its worker process died while running alone", i)
        raise TaskFailed(f"task {i}: its worker process died {self.max_retries + 1} times running alone "
                         "(out of memory or killed?)")

    def close(self, *, abort: bool = False) -> None:
        """Shut the pool down; with ``abort`` (an interrupted run) stop the workers now
        instead of waiting for their tasks (an unfinished task is never marked done)."""
        self.profile.close()
        self._shutdown(abort=abort)

    def _shutdown(self, *, abort: bool = False) -> None:
        if self._pool is None:
            return
        if abort:
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    proc.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None


def make_executor(cfg: ExecutorConfig, *, workers: int | None = None) -> Any:
    if cfg.kind == "ray":
        from .ray_executor import RayExecutor  # deferred: cycle (ray_executor imports this module)

        return RayExecutor(address=cfg.address, max_retries=cfg.max_retries, cpus_per_task=cfg.cpus_per_task,
                           memory_per_task=cfg.memory_per_task, num_cpus=workers or cfg.num_cpus)
    return LocalExecutor(workers or cfg.workers, max_retries=cfg.max_retries)
