"""Cross-run dedup indexes as transactions: generations, their owners, pending vs confirmed.

An index folder (``minhash_dedup``/``exact_dedup``/``paragraph_dedup``/``sentence_dedup``
with ``index: PATH``) holds ``index.json`` and one folder per generation, ``gen-NNNNN/``:
what one successful run kept. Several outputs (pipelines) may share one index. Rules:

* **Locked.** A run that uses an index holds ``PATH/.dataforge-index.lock`` (flock) from
  before its first task to its end; a second run on the same index is refused (exit 3),
  so no generation is lost to two writers and no run misses another's documents.
* **Two-phase commit.** A run adds its generation as ``pending`` (written under a temp
  name, renamed, then ``index.json`` replaced atomically), writes its output's manifest
  (the run's commit point), then marks the generation ``confirmed``. A reduce reads only
  confirmed generations, so a run killed between the two never deduplicates anything
  against a generation no manifest describes; the next run of the same output confirms
  its own pending generation when the manifest lists it (``runs[].index``), and drops it
  otherwise.
* **Owned.** Each generation records the output that made it. An append run reads its own
  output's generations (it adds to them); a recompute (not append) of an output ignores
  that output's generations (they describe what it is replacing) and, once confirmed,
  replaces them: a recompute never deduplicates against itself.
* **Per-generation format.** A generation records the options that shape its records; a
  reduce refuses generations made with other options (the message names them).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError, LockedError
from ..io import atomic_write_text, fsync_dir

INDEX_FILE = "index.json"
LOCK_FILE = ".dataforge-index.lock"
PENDING, CONFIRMED = "pending", "confirmed"


class Generations:
    """The ``index.json`` of one index folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # ---- state --------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        f = self.path / INDEX_FILE
        if not f.exists():
            return {"version": 2, "generations": []}
        try:
            state = json.loads(f.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{f}: not a readable dedup index ({exc}); restore it, or use a new index path") from None
        if not isinstance(state, dict) or not isinstance(state.get("generations"), list):
            raise ConfigError(f"{f}: not a dedup index (no generations list); use a new index path")
        for g in state["generations"]:  # version 1: one format for all, every generation confirmed
            g.setdefault("state", CONFIRMED)
            g.setdefault("output", None)
            g.setdefault("format", state.get("format"))
        return state

    def _save(self, state: dict[str, Any]) -> None:
        state["version"] = 2
        state.pop("format", None)
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / INDEX_FILE, json.dumps(state, indent=1, sort_keys=True))

    def usable(self, fmt: dict[str, Any], *, output: str, own: bool) -> list[dict[str, Any]]:
        """Confirmed generations a run deduplicates against, oldest first (its own
        output's only when ``own``: append mode). Refuses generations of another format."""
        gens = [g for g in self.load()["generations"]
                if g["state"] == CONFIRMED and (own or g["output"] != output)]
        other = [g for g in gens if g["format"] != fmt]
        if other:
            g = other[0]
            raise ConfigError(
                f"{self.path / INDEX_FILE}: generation {g['name']} (from {g['output'] or 'an earlier run'}) was built "
                f"with {g['format']}, this stage uses {fmt}; use the same dedup options as the runs that built it, "
                "or a new index path")
        return gens

    def find(self, run: str) -> dict[str, Any] | None:
        return next((g for g in self.load()["generations"] if g["run"] == run), None)

    # ---- writing ------------------------------------------------------------------------
    def add(self, *, run: str, output: str, fmt: dict[str, Any], write: Callable[[Path], dict[str, Any]]) -> str:
        """Add this run's generation as pending (once per run key); ``write(folder)`` fills
        its folder and returns facts to record (counts). Returns the generation's name."""
        old = self.find(run)
        if old is not None:
            return str(old["name"])
        state = self.load()
        used = [int(g["name"].split("-")[1]) for g in state["generations"] if str(g["name"]).startswith("gen-")]
        name = f"gen-{max(used, default=-1) + 1:05d}"
        tmp = self.path / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        facts = write(tmp)
        final = self.path / name
        shutil.rmtree(final, ignore_errors=True)  # an orphan of a crash between rename and index.json
        tmp.rename(final)
        fsync_dir(self.path)
        state["generations"].append({"name": name, "run": run, "output": output, "state": PENDING, "format": fmt,
                                     "added": time.strftime("%Y-%m-%dT%H:%M:%S"), **facts})
        self._save(state)
        return name

    def confirm(self, run: str, *, output: str, replace_own: bool) -> None:
        """Mark ``run``'s generation confirmed; with ``replace_own`` (a recompute) remove the
        output's other generations. Pending generations of the output are dropped either way."""
        state = self.load()
        keep, gone = [], []
        for g in state["generations"]:
            if g["run"] == run:
                g["state"] = CONFIRMED
                keep.append(g)
            elif g["output"] == output and (g["state"] == PENDING or replace_own):
                gone.append(g)
            else:
                keep.append(g)
        state["generations"] = keep
        self._save(state)
        for g in gone:
            shutil.rmtree(self.path / g["name"], ignore_errors=True)

    def settle(self, *, output: str, confirmed_runs: set[str]) -> None:
        """Before a run: the output's pending generations that its manifest lists are
        confirmed (a run killed after its manifest); the others are dropped (killed before)."""
        state = self.load()
        changed = False
        for g in list(state["generations"]):
            if g["output"] == output and g["state"] == PENDING:
                changed = True
                if g["run"] in confirmed_runs:
                    g["state"] = CONFIRMED
                else:
                    state["generations"].remove(g)
                    shutil.rmtree(self.path / g["name"], ignore_errors=True)
        if changed:
            self._save(state)


@contextlib.contextmanager
def index_lock(path: Path) -> Iterator[None]:
    """Hold an index folder exclusively for the duration of a run (see the module docstring)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    fh = open(path / LOCK_FILE, "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown process"
        fh.close()
        raise LockedError(f"{path}: another dataforge run is using this dedup index ({holder}); runs that share "
                          "an index take turns: rerun when it has finished") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    fh.flush()
    try:
        yield
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
