"""A fast fake OpenAI-compatible endpoint for client benchmarks: one asyncio loop, keep-alive HTTP/1.1.

The test suite's server (``tests/selfinstruct/conftest.py``) is a ``ThreadingHTTPServer``:
right for tests (scriptable misbehaviour), but at a few hundred requests/s its own
threads cost more CPU than the client under test, so on a 2-core machine it would
measure itself. This one answers with the same fake model (``fake_model``) after
``latency`` seconds of ``asyncio.sleep`` (no thread per request), so the server side
costs a small fraction of a millisecond per request.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.selfinstruct.conftest import fake_model, prompt_of  # noqa: E402


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = json.loads(await reader.readexactly(length)) if length else {}
            await asyncio.sleep(latency)
            prompt = prompt_of(body) if body else ""
            text = fake_model(prompt, 0)
            usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            if "messages" in body:
                choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            else:
                choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
            data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                               "choices": [choice], "usage": usage}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                         + str(len(data)).encode() + b"\r\n\r\n" + data)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _serve(latency: float, port: "multiprocessing.sharedctypes.Synchronized[int]") -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _handle(r, w, latency), "127.0.0.1", 0, backlog=1024)
        port.value = server.sockets[0].getsockname()[1]
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_server_process(serve: Any, latency: float) -> tuple[multiprocessing.Process, str]:
    """Run ``serve(latency, port)`` in its own process (its own GIL); returns (process, base URL)."""
    port = multiprocessing.Value("i", 0)
    proc = multiprocessing.Process(target=serve, args=(latency, port), daemon=True)
    proc.start()
    while not port.value:
        time.sleep(0.01)
    return proc, f"http://127.0.0.1:{port.value}/v1"


def start_fast_server(latency: float) -> tuple[multiprocessing.Process, str]:
    return start_server_process(_serve, latency)
