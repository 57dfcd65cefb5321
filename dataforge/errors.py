"""Errors meant for users. Each class says what happens to the rest of the run."""

from __future__ import annotations

import signal
from dataclasses import dataclass


class DataforgeError(Exception):
    """Base class: a problem the user can fix. The message says how."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem in a configuration file: where, which key, what, and a fix."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigError(DataforgeError):
    """Fatal before any work starts: the pipeline file (or a CLI option) is wrong.

    Carries every problem found, not only the first.
    """

    exit_code = 2

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="", line=None, key="", message=problems)]
        self.problems = problems
        super().__init__("\n".join(str(p).lstrip(": ") for p in problems))


class InputError(DataforgeError):
    """A bad input file or record: counted and skipped, the run goes on."""

    def __init__(self, path: str, where: str | int | None, reason: str):
        self.path, self.where, self.reason = path, where, reason
        loc = f"{path}:{where}" if where is not None else path
        super().__init__(f"{loc}: skipped: {reason}")


class TaskOutputError(DataforgeError):
    """A finished task's side file is damaged: the runner redoes ``task_dirs`` (the tasks
    that wrote them), then the step that read them. Empty ``task_dirs``: the damage is in
    cross-run state (an index) and the run stops with the message."""

    @property
    def task_dirs(self) -> list[str]:
        return []


class LockedError(DataforgeError):
    """Another run holds the output directory. Fatal for this run only."""

    exit_code = 3


class Interrupted(BaseException):
    """SIGTERM or SIGINT (cron, systemd, Kubernetes, Slurm, Ctrl-C): the run stops its
    workers, releases its lock and exits with 128 + the signal number; a rerun resumes.
    A BaseException, like KeyboardInterrupt, so no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}; nothing unfinished was marked done "
                         "(rerun the same command to resume)")


class OutputError(DataforgeError):
    """The output cannot be written (read-only, disk full). Fatal; nothing partial is left looking complete."""

    exit_code = 1
