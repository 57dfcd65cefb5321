"""A local OpenAI-compatible HTTP server (real sockets on 127.0.0.1) for the client and CLI tests.

It answers ``/v1/chat/completions`` and ``/v1/completions`` like a small LLM that knows
the prompt formats of both methods, counts every request and every 200 answer per
prompt, and can be scripted to misbehave: status codes with headers (429 +
Retry-After, 500, 401, 404, 400 context length), slow answers, dropped connections,
malformed or truncated (finish_reason "length") lists, and hostile HTTP 200 bodies
(``raw``: HTML, broken JSON, ``choices: []``, ...), sent whole, chunked, or trickled a
byte at a time.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

_SEED_WORDS = sorted({w for line in (Path(__file__).resolve().parents[2] / "data" / "instructions" /
                                    "seed_tasks.jsonl").read_text().splitlines()
                      for w in re.findall(r"[a-z]{4,}", json.loads(line)["instances"][0]["output"].lower())})
WORDS = ("apple river quantum violin desert lantern copper orbit meadow puzzle harbor canyon falcon pepper "
         "glacier ribbon saddle tundra velvet walnut yonder zephyr anchor basil cobalt dune ember fjord "
         "garnet hazel island jasmine kettle lemon marble nectar oyster pebble quartz raven sierra tulip "
         "umber vortex willow xenon yarrow zinnia bramble cinder dapple eclipse fern grotto heron ivy "
         "juniper kelp lotus moss nimbus onyx prairie quill rust slate thistle urchin vale wren yew").split() + [
    w for w in _SEED_WORDS if w not in ("image", "images", "graph", "graphs", "picture", "pictures", "file",
                                        "files", "draw", "plot", "video", "audio", "music", "flowchart",
                                        "diagram", "maps")]


@dataclass
class Reply:
    """One scripted answer. ``text=None`` lets the server's fake model write the text."""

    status: int = 200
    text: str | None = None
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    error: str = "error"
    code: str | None = None
    raw: bytes | None = None  # an HTTP 200 body sent as is (a hostile or broken server)
    content_type: str = "application/json"
    chunked: bool = False  # Transfer-Encoding: chunked (no content-length)
    trickle: float = 0.0  # seconds between single bytes of the body


class FakeLLM:
    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.answered: Counter[str] = Counter()
        self.usage = Counter()
        self.latency = 0.0
        self.inflight = 0
        self.peak_inflight = 0
        self.on_request: Callable[[int], None] | None = None
        self.model_text: Callable[[str, int], str] = fake_model
        self.lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self.url = ""

    def reset(self) -> None:
        """Forget every request: the next run sees a fresh model (same answers as the first)."""
        with self.lock:
            self.requests.clear()
            self.answered.clear()
            self.usage.clear()
            self._seen.clear()

    def answer(self, body: dict[str, Any]) -> tuple[Reply, str]:
        with self.lock:
            self.requests.append(body)
            n = len(self.requests)
            prompt = prompt_of(body)
            seen = self._seen[prompt]
            self._seen[prompt] += 1
        if self.on_request:
            self.on_request(n)
        with self.lock:
            reply = self.script.popleft() if self.script else Reply()
        text = reply.text if reply.text is not None else self.model_text(prompt, seen)
        return reply, text


def prompt_of(body: dict[str, Any]) -> str:
    if "messages" in body:
        return body["messages"][-1]["content"]
    return body["prompt"]


def _words(rng: random.Random, k: int) -> str:
    return " ".join(rng.sample(WORDS, k))


def fake_model(prompt: str, seen: int) -> str:
    """A deterministic stand-in for a model, by prompt format (Alpaca, Self-Instruct steps)."""
    rng = random.Random(hashlib.sha256(f"{prompt}|{seen}".encode()).digest())
    if prompt.rstrip().endswith("Is it classification?"):
        return " Yes" if rng.random() < 0.5 else " No"
    if prompt.startswith("Given the classification task definition"):
        return "Class label: Alpha\nText: " + _words(rng, 5) + "\nClass label: Beta\nText: " + _words(rng, 5) + "\n"
    if prompt.startswith("Come up with examples"):
        return ("Example 1\nInput: " + _words(rng, 4) + "\nOutput: " + _words(rng, 6) +
                "\nExample 2\nInput: " + _words(rng, 4) + "\nOutput: " + _words(rng, 6) + "\n")
    if prompt.startswith("Come up with a series"):
        last = int(prompt.rsplit("\n", 1)[-1].rstrip("."))
        items = [f" Describe the {_words(rng, 7)}."] + [f"{n}. Explain the {_words(rng, 7)}."
                                                        for n in range(last + 1, last + 4)]
        return "\n".join(items)
    if "List of 20 tasks:" in prompt:
        first = int(prompt.rsplit("###\n", 1)[-1].split(".", 1)[0])
        out = []
        for n in range(first, first + 3):
            head = "" if n == first else f"{n}. Instruction:"
            out.append(f"{head} Describe the {_words(rng, 7)}.\n{n}. Input:\n<noinput>\n{n}. Output:\n"
                       f"The {_words(rng, 6)}.\n")
        return "###\n".join(out)
    if prompt.startswith("I want you act as a Prompt Rewriter"):  # Evol-Instruct in depth
        given = prompt.split("#The Given Prompt#: \r\n ", 1)[1].split(" \r\n#Rewritten Prompt#:", 1)[0]
        roll = rng.random()
        if roll < 0.1:
            return "#Rewritten Prompt#: " + given  # copies the prompt's wording
        return given + f" Also consider the {_words(rng, 5)}." if roll < 0.9 else given
    if prompt.startswith("I want you act as a Prompt Creator"):  # Evol-Instruct in breadth
        return f"Explain the {_words(rng, 8)}."
    if prompt.startswith("Here are two Instructions to ChatGPT AI"):  # Evol-Instruct equality (Appendix G)
        first = prompt.split("The First Prompt: ", 1)[1].split("\r\nThe Second Prompt: ", 1)[0]
        second = prompt.split("\r\nThe Second Prompt: ", 1)[1].split("\r\nYour Judgement", 1)[0]
        return "Equal" if first == second else "Not Equal"
    if prompt.startswith("We would like to request your feedback"):  # AlpaGasus judge
        return _judge_answer(prompt, rng)
    roll = rng.random()
    if roll < 0.08:
        return "Sorry, I cannot help with that."
    if roll < 0.12:
        return "It is what it is."
    return f"Here is a careful answer about the {_words(rng, 12)}."


def _judge_answer(prompt: str, rng: random.Random) -> str:
    """Scores as a judge writes them, some in awkward forms, a few unusable."""
    roll = rng.random()
    score = rng.choice(["5", "4.5", "4", "3.5", "3", "2", "1"])
    if roll < 0.6:
        return f"{score}\nThe response is accurate and helpful."
    if roll < 0.75:
        return f"Score: {score}/5\nMostly correct."
    if roll < 0.9:
        return f"**{score}**\n\nExplanation: fine."
    return "I would rate this response highly.\nIt is good."


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep pytest output quiet
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    def do_POST(self) -> None:
        llm = self.server.llm
        with llm.lock:
            llm.inflight += 1
            llm.peak_inflight = max(llm.peak_inflight, llm.inflight)
        try:
            self._post()
        finally:
            with llm.lock:
                llm.inflight -= 1

    def _post(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        llm = self.server.llm
        reply, text = llm.answer(body)
        if llm.latency or reply.delay:
            time.sleep(llm.latency + reply.delay)
        if reply.drop:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if reply.status != 200:
            err = {"error": {"message": reply.error, "type": "error", "code": reply.code}}
            self._send(reply.status, err, reply.headers)
            return
        if reply.raw is not None:
            self._send_raw(reply)
            return
        if body.get("model") != "fake-model":
            self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist.",
                                       "type": "invalid_request_error", "code": "model_not_found"}})
            return
        prompt_tokens, completion_tokens = len(prompt_of(body).split()), len(text.split())
        with llm.lock:
            llm.answered[prompt_of(body)] += 1
            llm.usage["prompt_tokens"] += prompt_tokens
            llm.usage["completion_tokens"] += completion_tokens
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        obj = completion_body(text, chat=self.path.endswith("/chat/completions"), model=body["model"],
                              finish_reason=reply.finish_reason, usage=usage)
        if reply.trickle:
            self._send_raw(Reply(raw=json.dumps(obj).encode(), trickle=reply.trickle))
            return
        self._send(200, obj)

    def _send_raw(self, reply: Reply) -> None:
        data = reply.raw or b""
        self.send_response(200)
        self.send_header("content-type", reply.content_type)
        if reply.chunked:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(len(data)))
        self.end_headers()
        try:
            if reply.chunked:
                for i in range(0, len(data), 4096):
                    piece = data[i:i + 4096]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif reply.trickle:
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on us
            self.close_connection = True

    def _send(self, status: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def completion_body(text: str, *, chat: bool = True, model: str = "fake-model", finish_reason: str = "stop",
                    usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A well-formed chat or completions answer."""
    if chat:
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": finish_reason}
    else:
        choice = {"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}
    return {"id": "x", "object": "chat.completion" if chat else "text_completion", "created": 0, "model": model,
            "choices": [choice], "usage": usage or {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    llm: FakeLLM


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.llm = FakeLLM()
    server.llm.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.llm
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def seed_file(data_dir: Any) -> Any:
    return data_dir / "instructions" / "seed_tasks.jsonl"
