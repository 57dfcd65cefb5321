"""The runner: plan (stages -> phases -> tasks), executors, state (markers, lock, manifest)."""

from .engine import RunResult, run_pipeline

__all__ = ["RunResult", "run_pipeline"]
