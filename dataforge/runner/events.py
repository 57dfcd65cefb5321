"""What a run tells whoever watches it (the CLI's progress bars, a notebook, a test).

A small typed protocol: ``on_event`` receives one of these dataclasses. A *phase* is a
set of tasks run through the executor (``PhaseStart`` with how many are already done,
one ``TaskDone`` per finished task, ``PhaseEnd``); a *step* is driver work between phases
(a barrier's reduce, publishing, training: ``StepStart``/``StepEnd``). ``UpToDate``: the
output is complete for this pipeline and these inputs; nothing runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PhaseStart:
    title: str
    total: int  # tasks in the phase
    done: int  # of which finished earlier (a resumed run)


@dataclass(frozen=True)
class TaskDone:
    title: str  # the phase's
    task: str


@dataclass(frozen=True)
class PhaseEnd:
    title: str


@dataclass(frozen=True)
class StepStart:
    title: str


@dataclass(frozen=True)
class StepEnd:
    title: str


@dataclass(frozen=True)
class UpToDate:
    output: str


Event = PhaseStart | TaskDone | PhaseEnd | StepStart | StepEnd | UpToDate
OnEvent = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default listener."""
