"""Sending one attempt: two transports over the ``openai`` package, each returning the raw body.

* ``http`` (default): the request body is encoded once (``RequestBody``: the same
  canonical JSON that keys the cache) and posted through the SDK's own HTTP client class
  (``openai.DefaultAsyncHttpxClient``) with the SDK's headers (key, user agent,
  organisation and project from the environment) to the SDK's resolved base URL. It
  skips the SDK's per-request option copying, body transformation and pydantic model
  building, which cost about half of the client's CPU per request (benchmarks/bench_client.py).
* ``sdk``: ``client.chat.completions.with_streaming_response.create(...)``: the SDK builds
  every request; use it for endpoints that need the SDK's own request logic.

Both read the body as a stream and stop past ``max_bytes`` (a ``BadResponse`` of kind
``too_large``, before anything is parsed or cached), and report failures as
:class:`AttemptError` in one vocabulary. httpcore's connection pool scans every
connection on each request (its cost grows with the pool), so connections are spread
over lanes of ``LANE_SIZE``, each its own pool; a request takes the least busy lane.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai

if TYPE_CHECKING:  # checked against httpx2; httpx has the same names used here (Limits and the errors)
    import httpx2 as httpx
else:
    try:  # openai >= 3 ships httpx2; openai 1.x used httpx
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - depends on the installed openai
        import httpx

from .response import BadResponse

LANE_SIZE = 8  # connections per pool (ours, bench_client.py: 1.7 ms/request at 64 in flight vs 2.6 in one pool)
TRANSPORTS = ("http", "sdk")


@dataclass(frozen=True)
class RequestBody:
    """One request's parts, JSON-encoded once: the cache key and the HTTP body are built from them."""

    model_json: str
    mode: str
    prompt_json: str
    params_json: str  # sorted keys, compact

    @classmethod
    def build(cls, *, model: str, mode: str, prompt: str, params: dict[str, Any]) -> "RequestBody":
        return cls(json.dumps(model, ensure_ascii=False), mode, json.dumps(prompt, ensure_ascii=False),
                   json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":")))

    def key_json(self, occurrence: int) -> str:
        """Exactly ``json.dumps({model, mode, params, occurrence, messages|prompt}, sort_keys=True,
        ensure_ascii=False, separators=(",", ":"))`` (``cache.request_key``), built without re-encoding."""
        if self.mode == "chat":
            return (f'{{"messages":[{{"content":{self.prompt_json},"role":"user"}}],"mode":"chat",'
                    f'"model":{self.model_json},"occurrence":{occurrence},"params":{self.params_json}}}')
        return (f'{{"mode":{json.dumps(self.mode)},"model":{self.model_json},"occurrence":{occurrence},'
                f'"params":{self.params_json},"prompt":{self.prompt_json}}}')

    def http_body(self) -> bytes:
        params = self.params_json[1:-1]
        sep = "," if params else ""
        if self.mode == "chat":
            tail = f'"messages":[{{"role":"user","content":{self.prompt_json}}}]'
        else:
            tail = f'"prompt":{self.prompt_json}'
        return f'{{"model":{self.model_json},{params}{sep}{tail}}}'.encode("utf-8")


class AttemptError(Exception):
    """One failed attempt. ``kind``: ``status`` (HTTP >= 400), ``timeout``, ``connect`` (nothing was
    sent: never billed) or ``connection`` (dropped after sending: may have been billed)."""

    def __init__(self, kind: str, *, status: int | None = None, message: str = "", code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.kind, self.status, self.message, self.code = kind, status, message, code
        self.headers: Mapping[str, str] = headers or {}
        super().__init__(f"HTTP {status}: {message}" if status else f"{kind}: {message}")


async def read_capped(chunks: AsyncIterator[bytes], *, max_bytes: int, declared: str | None) -> bytes:
    """The whole body, or BadResponse('too_large') as soon as it passes ``max_bytes``."""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadResponse("too_large", f"content-length {declared} > {max_bytes}")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise BadResponse("too_large", f"more than {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _error_fields(raw: bytes) -> tuple[str, str | None]:
    """(message, code) of an error body, whatever its shape."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return " ".join(raw[:200].decode("utf-8", "replace").split()), None
    err = obj.get("error", obj) if isinstance(obj, dict) else obj
    if isinstance(err, dict):
        code = err.get("code")
        return str(err.get("message") or err)[:500], (str(code) if code is not None else None)
    return str(err)[:500], None


class _Lanes:
    def __init__(self, concurrency: int, make: Any) -> None:
        self.items = [make() for _ in range(max(1, -(-concurrency // LANE_SIZE)))]
        self.busy = [0] * len(self.items)

    def pick(self) -> int:
        return min(range(len(self.busy)), key=self.busy.__getitem__)


def _limits() -> Any:
    return httpx.Limits(max_connections=LANE_SIZE, max_keepalive_connections=LANE_SIZE)


class HttpTransport:
    """Posts pre-encoded bodies through the SDK's HTTP client class (see the module docstring)."""

    def __init__(self, *, api_key: str | None, base_url: str | None, timeout: float, concurrency: int,
                 max_bytes: int) -> None:
        sdk = openai.AsyncOpenAI(api_key=api_key or "no-key", base_url=base_url, max_retries=0)
        self.root = str(sdk.base_url).rstrip("/")
        headers = {**sdk.default_headers, **sdk.auth_headers, "Content-Type": "application/json"}
        # the SDK's key, user agent, organisation and project, not its X-Stainless telemetry (each header is
        # validated per request by h11); Omit markers (unset organisation/project) are not strings
        self.headers = {k: v for k, v in headers.items() if isinstance(v, str) and not k.lower().startswith("x-stainless")}
        self.max_bytes = max_bytes
        self.lanes = _Lanes(concurrency, lambda: openai.DefaultAsyncHttpxClient(timeout=timeout, limits=_limits()))

    async def send(self, body: RequestBody, *, prompt: str, params: dict[str, Any], model: str) -> bytes:
        url = self.root + ("/chat/completions" if body.mode == "chat" else "/completions")
        lane = self.lanes.pick()
        self.lanes.busy[lane] += 1
        try:
            async with self.lanes.items[lane].stream("POST", url, content=body.http_body(),
                                                     headers=self.headers) as resp:
                raw = await read_capped(resp.aiter_bytes(), max_bytes=self.max_bytes,
                                        declared=resp.headers.get("content-length"))
                if resp.status_code >= 400:
                    message, code = _error_fields(raw)
                    raise AttemptError("status", status=resp.status_code, message=message, code=code,
                                       headers=resp.headers)
                return raw
        except httpx.TimeoutException as exc:
            raise AttemptError("timeout", message=type(exc).__name__) from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
            raise AttemptError("connect", message=f"{type(exc).__name__}: {exc}") from None
        except httpx.HTTPError as exc:  # read/write errors, the server closed the connection mid-answer
            raise AttemptError("connection", message=f"{type(exc).__name__}: {exc}") from None
        finally:
            self.lanes.busy[lane] -= 1

    async def close(self) -> None:
        for client in self.lanes.items:
            await client.aclose()


class SdkTransport:
    """Lets the SDK build each request; the body is still read raw and capped."""

    def __init__(self, *, api_key: str | None, base_url: str | None, timeout: float, concurrency: int,
                 max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.lanes = _Lanes(concurrency, lambda: openai.AsyncOpenAI(
            api_key=api_key or "no-key", base_url=base_url, max_retries=0, timeout=timeout,
            http_client=openai.DefaultAsyncHttpxClient(timeout=timeout, limits=_limits())))

    async def send(self, body: RequestBody, *, prompt: str, params: dict[str, Any], model: str) -> bytes:
        lane = self.lanes.pick()
        self.lanes.busy[lane] += 1
        sdk = self.lanes.items[lane]
        try:
            if body.mode == "chat":
                call = sdk.chat.completions.with_streaming_response.create(
                    model=model, messages=[{"role": "user", "content": prompt}], **params)
            else:
                call = sdk.completions.with_streaming_response.create(model=model, prompt=prompt, **params)
            async with call as resp:
                return await read_capped(resp.iter_bytes(), max_bytes=self.max_bytes,
                                         declared=resp.headers.get("content-length"))
        except openai.APIStatusError as exc:
            message = str(getattr(exc, "message", None) or exc)
            raise AttemptError("status", status=exc.status_code, message=message,
                               code=str(exc.code) if getattr(exc, "code", None) else None,
                               headers=exc.response.headers) from None
        except openai.APITimeoutError:
            raise AttemptError("timeout", message="APITimeoutError") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            kind = "connect" if isinstance(cause, httpx.ConnectError) else "connection"
            raise AttemptError(kind, message=f"{type(cause).__name__ if cause else 'APIConnectionError'}") from None
        finally:
            self.lanes.busy[lane] -= 1

    async def close(self) -> None:
        for sdk in self.lanes.items:
            await sdk.close()


def make_transport(name: str, **kwargs: Any) -> HttpTransport | SdkTransport:
    classes: dict[str, type[HttpTransport] | type[SdkTransport]] = {"http": HttpTransport, "sdk": SdkTransport}
    return classes[name](**kwargs)
