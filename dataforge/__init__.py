"""dataforge: crawl dumps and seed prompts in, training shards out.

The Python API (``dataforge.run``, ``dataforge.load``, ``dataforge.open_output``) lives in
``dataforge.api``; it is imported on first use so that ``dataforge --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["run", "load", "open_output", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("run", "load", "open_output", "Output"):
        from . import api  # deferred: `import dataforge` (and so `dataforge --help`) stays light

        return getattr(api, name)
    raise AttributeError(f"module 'dataforge' has no attribute {name!r}")
