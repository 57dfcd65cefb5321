"""On-disk request cache: a killed-and-rerun run pays for no request twice.

Every request is keyed by a hash of model, endpoint mode, prompt (or messages),
sampling parameters and its occurrence number (the n-th identical request of a run
gets its own sample). Only what the model returned is stored (the API key redacted if
the model echoed it) - never headers, never the key.

Writes are batched without losing anything: a commit per response cost ~0.2 ms of the
client's ~2 ms per request, so each answer is first appended to a journal beside the
database (one ``write`` on an ``O_APPEND`` descriptor, ~10 us, no fsync: the same
durability as SQLite's WAL with ``synchronous=NORMAL``) and the journal is moved into
SQLite in one transaction at most ``FLUSH_S`` later (or every ``FLUSH_ROWS``). Opening
the cache replays a journal a killed run left behind, so a process killed at any
instant keeps every answer it paid for. The journal is ``flock``-ed by its process; a
second process sharing the cache commits each answer directly instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import OutputError

FLUSH_S = 0.05  # longest a response waits for its commit (ours)
FLUSH_ROWS = 64  # or this many responses, whichever comes first


def request_key(*, model: str, mode: str, prompt: str, params: dict[str, Any], occurrence: int) -> str:
    """sha256 of everything that determines a response (canonical JSON). The reference form of
    ``transport.RequestBody.key_json``, which the client uses (same bytes, one encoding)."""
    body: dict[str, Any] = {"model": model, "mode": mode, "params": params, "occurrence": occurrence}
    if mode == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    blob = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RequestCache:
    """``key -> response`` in one SQLite file; safe to reopen after a crash."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pending: dict[str, str] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._error: BaseException | None = None
        self._journal: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses "
                             "(key TEXT PRIMARY KEY, body TEXT NOT NULL, created REAL NOT NULL)")
            self._open_journal()
        except (sqlite3.Error, OSError) as exc:
            raise OutputError(f"{self.path}: cannot open the request cache ({exc}); "
                              "pass a writable --cache path") from exc

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".journal")

    def _open_journal(self) -> None:
        """Own the journal (flock), replay what a killed run left in it, and empty it."""
        fd = os.open(self.journal_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another process owns it: commit every answer directly
            os.close(fd)
            return
        with open(self.journal_path, "rb") as fh:
            for line in fh:
                key, sep, blob = line.rstrip(b"\n").partition(b"\t")
                if sep and line.endswith(b"\n"):  # a line cut by the kill is dropped (never used)
                    self._pending[key.decode()] = blob.decode("utf-8")
        self._journal = fd
        self.flush()

    def get(self, key: str) -> dict[str, Any] | None:
        self._raise_pending_error()
        blob = self._pending.get(key)
        if blob is None:
            row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
            blob = row[0] if row else None
        return json.loads(blob) if blob is not None else None

    def put(self, key: str, body: dict[str, Any]) -> None:
        self._raise_pending_error()
        blob = json.dumps(body, ensure_ascii=False)  # one line: JSON escapes newlines and tabs
        self._pending[key] = blob
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self._journal is None:
            self.flush()
            return
        try:
            os.write(self._journal, f"{key}\t{blob}\n".encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"{self.journal_path}: cannot write the request cache journal ({exc.strerror}); "
                              "free disk space or pass another --cache, then rerun") from exc
        if len(self._pending) >= FLUSH_ROWS:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(FLUSH_S, self._flush_from_timer)

    def _flush_from_timer(self) -> None:
        self._timer = None
        try:
            self.flush()
        except OutputError as exc:  # raised again at the next get/put/close, where the run can stop on it
            self._error = exc

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        rows, now = list(self._pending.items()), time.time()
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO responses (key, body, created) VALUES (?, ?, ?)",
                                     [(k, b, now) for k, b in rows])
        except sqlite3.Error as exc:
            raise OutputError(f"{self.path}: cannot write the request cache ({exc}); free disk space or "
                              "pass another --cache, then rerun (answers cached so far are kept)") from exc
        self._pending.clear()
        if self._journal is not None:  # committed: the journal's lines are in the database now
            os.ftruncate(self._journal, 0)

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        try:
            self.flush()
            self._raise_pending_error()
        finally:
            self._db.close()
            if self._journal is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.journal_path)  # empty: everything is in the database
                os.close(self._journal)  # releases the flock
                self._journal = None
