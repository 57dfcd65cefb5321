"""The Ray executor: the same tasks and barriers as the local one, as Ray tasks.

Tasks are the same top-level functions the local executor runs; each is submitted with
the CPUs and memory the pipeline file declares, retried by Ray a bounded number of
times when its worker dies, and results come back in argument order, so the output is
byte-identical to a local run. Task outputs go to the output directory, which every
node must see at the same path (a shared file system).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError, DataforgeError

log = logging.getLogger(__name__)


class RayExecutor:
    def __init__(self, *, address: str | None, max_retries: int = 2, cpus_per_task: float = 1.0,
                 memory_per_task: int | None = None, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("executor.kind: ray needs the 'ray' extra: pip install 'dataforge[ray]'") from None
        self._ray = ray
        self._started = False
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
        self.options: dict[str, Any] = {"num_cpus": cpus_per_task, "max_retries": max_retries,
                                        "retry_exceptions": False}
        if memory_per_task:
            self.options["memory"] = memory_per_task

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]],
            on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
        ray = self._ray
        remote = ray.remote(fn).options(**self.options)
        refs = [remote.remote(*a) for a in args]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = index[ref]
                    try:
                        results[i] = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        raise exc.as_instanceof_cause() from None
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
                        from .executor import TaskFailed

                        raise TaskFailed(f"task {i} failed after {self.options['max_retries']} retries: {exc}") from None
                    if on_done:
                        on_done(i, results[i])
        except BaseException:
            # on a cluster that outlives this run, tasks still running would go on writing into
            # the output after the run released its lock: stop them before raising
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or gone
                    continue
            if pending:
                ray.wait(pending, num_returns=len(pending), timeout=10)
            raise
        return results

    def close(self, *, abort: bool = False) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def _check_reachable(address: str) -> None:
    """Fail fast with a clear message on a host:port nobody listens on (Ray itself waits, then exits)."""
    import socket

    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise DataforgeError(f"executor.address: cannot connect to a Ray cluster at {address!r} ({exc.strerror or exc}); "
                             "start one with 'ray start --head' or leave address unset for a local one") from None
