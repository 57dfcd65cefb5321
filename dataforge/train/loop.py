"""Kept for ``dataforge.runner.engine``, which imports ``run_training`` from here: import it from
``dataforge.train`` instead; this module goes once the engine does."""

from . import run_training

__all__ = ["run_training"]
