"""Named points where a test (or the kill-loop benchmark) can kill a run on purpose.

``DATAFORGE_KILL_AT=<name>`` in the environment makes the process SIGKILL itself when it
reaches that point, exactly as a power cut or the OOM killer would; unset, a point costs
one dictionary lookup. The points are the run's commit points, in order: ``published``
(shards in place, not listed yet), ``committed`` (index generations added as pending),
``manifest`` (the manifest written), ``confirmed`` (generations confirmed), ``complete``.
"""

from __future__ import annotations

import os
import signal

POINTS = ("published", "committed", "manifest", "confirmed", "complete")


def reached(name: str) -> None:
    if os.environ.get("DATAFORGE_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
