"""What an endpoint's HTTP 200 body must be before anything uses it, and the API key's redaction.

A proxy, a wrong ``--base-url`` or a broken server answers 200 with anything: an HTML
page, truncated JSON, ``choices: []``, a string where an object belongs, ``usage``
with nulls. Each is a :class:`BadResponse` with a short stable ``kind`` (counted per
kind in the run summary and retried like a 5xx), never a traceback and never a cache
entry. A body without ``usage`` at all is accepted (llama.cpp and some proxies omit
it); the client then charges it at an upper bound and counts ``usage_estimated``.

Kinds: ``too_large`` (over the size cap), ``html``, ``invalid_json``, ``not_an_object``,
``error_body`` (an ``error`` object with status 200), ``no_choices`` (missing, null or
empty), ``bad_choice`` (not an object, or ``message``/``text``/``finish_reason`` of the
wrong type), ``bad_usage`` (token counts that are not non-negative integers),
``invalid_unicode`` (lone surrogates, which no file can hold).
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

from ..readers.jsonl import has_lone_surrogate

#: responses larger than this are refused before they are parsed or cached (ours: a
#: completion of 32k tokens is ~130 kB; 4 MiB leaves room for long outputs and logprobs)
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
REDACTED = "[REDACTED]"

_HINTS = {
    "html": "the endpoint answered HTTP 200 with an HTML page, not JSON; is --base-url the API root "
            "(usually ending in /v1)?",
    "invalid_json": "the endpoint answered HTTP 200 with a body that is not JSON",
    "too_large": "the response is larger than --max-response-bytes",
    "not_an_object": "the response is JSON but not an object",
    "error_body": "the endpoint answered HTTP 200 with an error object",
    "no_choices": "the response has no choices",
    "bad_choice": "the response's first choice is not a completion",
    "bad_usage": "the response's usage holds token counts that are not integers",
    "invalid_unicode": "the response holds invalid unicode (lone surrogates)",
}


class BadResponse(Exception):
    """An HTTP 200 answer that is not a completion. ``kind`` is counted; the attempt is retried."""

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind, self.detail = kind, detail
        super().__init__(f"bad response ({kind}): {_HINTS.get(kind, kind)}" + (f" [{detail}]" if detail else ""))


def parse_completion(raw: bytes, *, mode: str, content_type: str = "") -> dict[str, Any]:
    """The body of a chat or completions answer as ``{text, finish_reason, prompt_tokens,
    completion_tokens, model, usage_reported}``; BadResponse when it is not one."""
    if len(raw) > MAX_RESPONSE_BYTES:  # the transports stop reading earlier; this guards direct callers
        raise BadResponse("too_large", f"{len(raw)} bytes")
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # ValueError covers JSONDecodeError and bad UTF-8
        head = raw[:200].lstrip().lower()
        html = "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html", b"<"))
        raise BadResponse("html" if html else "invalid_json", _snippet(raw) if html else str(exc)[:120]) from None
    if not isinstance(obj, dict):
        raise BadResponse("not_an_object", type(obj).__name__)
    if obj.get("error") is not None and not obj.get("choices"):
        raise BadResponse("error_body", _snippet(json.dumps(obj.get("error"))[:200].encode()))
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadResponse("no_choices", "choices is " + ("missing" if "choices" not in obj else repr(choices)[:40]))
    choice = choices[0]
    if not isinstance(choice, dict):
        raise BadResponse("bad_choice", f"choices[0] is a {type(choice).__name__}")
    if mode == "chat":
        message = choice.get("message")
        if not isinstance(message, dict):
            raise BadResponse("bad_choice", f"choices[0].message is a {type(message).__name__}")
        text = message.get("content")
        text = "" if text is None else text  # a refusal or a tool call carries no content
    else:
        text = choice.get("text")
    if not isinstance(text, str):
        raise BadResponse("bad_choice", f"the completion text is a {type(text).__name__}")
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        raise BadResponse("bad_choice", f"finish_reason is a {type(finish).__name__}")
    model = obj.get("model")
    if has_lone_surrogate(text) or (isinstance(model, str) and has_lone_surrogate(model)):
        raise BadResponse("invalid_unicode")
    usage = obj.get("usage")
    prompt_tokens = completion_tokens = 0
    if usage is not None:
        if not isinstance(usage, dict):
            raise BadResponse("bad_usage", f"usage is a {type(usage).__name__}")
        given_prompt, given_completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not (_count(given_prompt) and _count(given_completion)):
            raise BadResponse("bad_usage", f"prompt_tokens={given_prompt!r}, completion_tokens={given_completion!r}")
        prompt_tokens, completion_tokens = given_prompt, given_completion
    return {"text": text, "finish_reason": finish, "prompt_tokens": int(prompt_tokens),
            "completion_tokens": int(completion_tokens),
            "model": model if isinstance(model, str) else None, "usage_reported": usage is not None}


def _count(value: object) -> TypeGuard[int]:
    """A token count: a non-negative int (not a bool) under 2**40."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 40


def _snippet(raw: bytes) -> str:
    return " ".join(raw[:80].decode("utf-8", "replace").split())


class Redactor:
    """Replaces the API key wherever an endpoint echoes it (texts, error messages) before it is stored or logged."""

    def __init__(self, secret: str | None) -> None:
        # a key shorter than 8 characters would match ordinary text: such keys are not redacted
        self.secret = secret if secret and len(secret) >= 8 else None

    def __call__(self, text: str) -> str:
        if self.secret is None or self.secret not in text:
            return text
        return text.replace(self.secret, REDACTED)

    def body(self, body: dict[str, Any]) -> dict[str, Any]:
        return {k: self(v) if isinstance(v, str) else v for k, v in body.items()}
