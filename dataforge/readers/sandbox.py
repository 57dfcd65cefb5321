"""Run HTML extraction in a child process that can be killed: a hard per-page time limit.

A signal cannot stop a long call inside a C extension: resiliparse's main-content
pass on a page of 40,000 nested ``<div>`` runs for minutes whatever SIGALRM says.
:class:`ExtractSandbox` sends each page to a child (``python -m
dataforge.readers.sandbox``) over a pipe and waits at most the time limit; on
timeout the child is killed (and restarted for the next page), so one page can never
cost a task more than the limit. A crash of the extractor (a segfault on odd bytes)
costs that page only. The child exits when its stdin closes (the parent finished or
died) and ignores Ctrl-C, which the parent handles.

Wire format, both ways: a 4-byte big-endian length, then UTF-8 bytes; a reply starts
with one status byte (``0`` text, ``1`` error message, ``2`` ready after start-up).
This module imports only the standard library at the top, so the child starts fast.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Callable
from typing import IO, Any, BinaryIO, cast

_LEN = struct.Struct(">I")
_OK, _ERROR, _READY = 0, 1, 2
#: seconds a new child may take to import its extractor and say it is ready
_START_TIMEOUT = 120.0
#: what the child calls per page, as "module:function" with run_extractor's signature
#: (tests point it at an extractor that never returns, to exercise the kill path)
EXTRACT_FUNCTION = "dataforge.readers.sandbox:run_extractor"


def run_extractor(
    html: str, *, extractor: str, main_content: bool, favour_precision: bool, fast: dict[str, Any] | None = None
) -> str | None:
    """The extraction itself (no time limit here); used in-process and in the child.

    ``fast`` holds the ``fast`` extractor's rule options (keyword arguments of
    :func:`.extract_fast.extract_fast`).
    """
    if extractor == "fast":
        from .extract_fast import extract_fast  # deferred: a sandbox child loads only the extractor it runs

        return extract_fast(html, main_content=main_content, **(fast or {}))
    if extractor == "trafilatura":
        import trafilatura  # deferred: ~0.3 s to import; only inputs that ask for it pay

        # deduplicate=False: trafilatura's dedup cache is process-global, so output
        # would depend on which pages a worker saw before (not deterministic).
        return trafilatura.extract(
            html, favor_precision=favour_precision, include_comments=False, deduplicate=False
        )
    from resiliparse.extract.html2text import extract_plain_text  # deferred: as extract_fast

    return extract_plain_text(html, main_content=main_content)


class SandboxTimeout(Exception):
    """The child did not answer within the limit; it has been killed."""


class SandboxCrash(Exception):
    """The child died (or answered garbage) while extracting; it has been discarded."""


class ExtractSandbox:
    """Parent side: one child process, started on first use, reused until it fails."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options  # keyword arguments of run_extractor (JSON-serialisable)
        self._proc: subprocess.Popen[bytes] | None = None

    def extract(self, html: str, timeout: float) -> str:
        """Extracted text ('' for nothing); raises SandboxTimeout / SandboxCrash."""
        proc = self._proc or self._start()
        data = html.encode("utf-8", errors="replace")
        try:
            stdin = cast(IO[bytes], proc.stdin)
            stdin.write(_LEN.pack(len(data)) + data)
            stdin.flush()
            status, body = self._reply(proc, time.monotonic() + timeout)
        except SandboxTimeout:
            self.close(kill=True)
            raise
        except (OSError, SandboxCrash) as exc:
            code = proc.poll()
            self.close(kill=True)
            raise SandboxCrash(f"extractor process died (exit {code}): {exc}") from exc
        text = body.decode("utf-8", errors="replace")
        if status == _ERROR:
            raise RuntimeError(text)
        return text

    def _start(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "dataforge.readers.sandbox", json.dumps(self.options), EXTRACT_FUNCTION]
        # the child must import this very package, installed or not
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env)
        self._proc = proc
        try:
            status, _ = self._reply(proc, time.monotonic() + _START_TIMEOUT)
        except (SandboxTimeout, SandboxCrash) as exc:
            self.close(kill=True)
            raise SandboxCrash(f"extractor process did not start: {exc}") from exc
        if status != _READY:
            self.close(kill=True)
            raise SandboxCrash("extractor process did not start: unexpected reply")
        return proc

    @staticmethod
    def _reply(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int, bytes]:
        stdout = cast(BinaryIO, proc.stdout)
        head = _read_exact(stdout, 1 + _LEN.size, deadline)
        return head[0], _read_exact(stdout, _LEN.unpack(head[1:])[0], deadline)

    def close(self, *, kill: bool = False) -> None:
        """Stop the child: EOF on its stdin (it exits), or SIGKILL when it is stuck."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        elif proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def __del__(self) -> None:
        self.close()


def _read_exact(stream: BinaryIO, n: int, deadline: float) -> bytes:
    fd = stream.fileno()
    poller = select.poll()  # not select(): it fails on descriptors above 1023
    poller.register(fd, select.POLLIN)
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise SandboxTimeout()
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise SandboxCrash("end of stream")
        buf += chunk
    return bytes(buf)


def _die_with_parent() -> None:
    """Linux: SIGKILL this child if the parent dies mid-page (best effort)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _resolve(function: str) -> Callable[..., str | None]:
    """ "module:function" -> the function (run_extractor of this very module by default)."""
    if function == EXTRACT_FUNCTION:
        return run_extractor
    module, _, name = function.partition(":")
    found: Callable[..., str | None] = getattr(importlib.import_module(module), name)
    return found


def _child(options: dict[str, Any], function: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and closes us
    _die_with_parent()
    # the protocol gets a private copy of stdout; fd 1 goes to stderr, so anything an
    # extractor prints cannot corrupt a reply
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    extract = _resolve(function)
    extract("<html></html>", **options)  # import the extractor before saying ready
    out.write(bytes([_READY]) + _LEN.pack(0))
    out.flush()
    while head := inp.read(_LEN.size):
        if len(head) < _LEN.size:
            return
        html = inp.read(_LEN.unpack(head)[0]).decode("utf-8", errors="replace")
        try:
            reply, status = (extract(html, **options) or "").encode("utf-8", errors="replace"), _OK
        except Exception as exc:  # reported to the parent as extract_error
            reply, status = f"{type(exc).__name__}: {exc}".encode("utf-8", errors="replace"), _ERROR
        out.write(bytes([status]) + _LEN.pack(len(reply)) + reply)
        out.flush()


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else EXTRACT_FUNCTION)
