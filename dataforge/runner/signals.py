"""SIGTERM handled like Ctrl-C: what cron, systemd, Kubernetes and Slurm send to stop a job.

Inside ``stop_on_signals()`` SIGTERM and SIGINT raise :class:`~dataforge.errors.Interrupted`
in the main thread, wherever it is waiting. The run then stops its workers (aborting
their tasks: an unfinished task is never marked done), releases the output lock and
exits with 128 + the signal number; the next run resumes from the last committed task.
Outside the main thread (a run started from a notebook's worker thread) nothing is
installed and the default behaviour stays.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from ..errors import Interrupted

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _raise(signum: int, frame: FrameType | None) -> None:
    # the second signal while stopping must not interrupt the clean-up: ignore it
    for s in _SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, _raise)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
