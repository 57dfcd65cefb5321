"""On-disk request cache: a killed-and-rerun run pays for no request twice.

Every request is keyed by a hash of model, endpoint mode, prompt (or messages),
sampling parameters and its occurrence number (the n-th identical request of a run
gets its own sample). Responses go into SQLite (WAL, autocommit) the moment they
arrive, so a run killed at any instant keeps every response it paid for. Only what
the model returned is stored - never headers, never the API key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import OutputError


def request_key(*, model: str, mode: str, prompt: str, params: dict[str, Any], occurrence: int) -> str:
    """sha256 of everything that determines a response (canonical JSON)."""
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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses "
                             "(key TEXT PRIMARY KEY, body TEXT NOT NULL, created REAL NOT NULL)")
        except sqlite3.Error as exc:
            raise OutputError(f"{self.path}: cannot open the request cache ({exc}); "
                              "pass a writable --cache path") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, body: dict[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO responses (key, body, created) VALUES (?, ?, ?)",
                         (key, json.dumps(body, ensure_ascii=False), time.time()))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        self._db.close()
