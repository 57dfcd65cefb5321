"""Chat data: one record type (``Conversation``) read from every common format, written to two.

Read (``to_conversation``, by the record's keys):

* OpenAI messages: ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}``;
* ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value": "..."}]}``
  (``from`` also ``user``/``assistant``/``chatgpt``/``bing``/``bard``, as in the wild);
* LIMA (Zhou et al. 2023, the released ``lima`` set): ``{"conversations": ["user turn",
  "assistant turn", ...]}``, alternating and starting with the user;
* Alpaca: ``{"instruction", "input", "output"}``: one user turn (the instruction, then a
  blank line and the input when there is one) and one assistant turn.

Written (``from_conversation``): ``messages``, ``sharegpt``, or ``alpaca`` (single-turn
conversations only, with no system turn). A record that fits no format, has an unknown
role, or no assistant turn raises ``ValueError`` with the reason; callers report
``file:line``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from .records import read_records, write_records

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "system": "system"}
FORMATS = ("messages", "sharegpt", "alpaca")


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass
class Conversation:
    messages: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)  # the record's other fields, kept through conversions
    source_format: str = "messages"

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


def is_chat(record: dict[str, Any]) -> bool:
    return "messages" in record or "conversations" in record


def to_conversation(record: Any) -> Conversation:
    if not isinstance(record, dict):
        raise ValueError("a record must be a JSON object")
    if "messages" in record:
        conv = Conversation(_openai(record["messages"]), _meta(record, "messages"), "messages")
    elif "conversations" in record:
        turns = record["conversations"]
        if isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns):
            conv = Conversation([Message(ROLES[1 + i % 2], t) for i, t in enumerate(turns)],
                                _meta(record, "conversations"), "lima")
        else:
            conv = Conversation(_sharegpt(turns), _meta(record, "conversations"), "sharegpt")
    elif isinstance(record.get("instruction"), str):
        if not isinstance(record.get("output"), str):
            raise ValueError("an Alpaca record needs a string 'output'")
        inp = record.get("input") or ""
        user = record["instruction"] + (f"\n\n{inp}" if inp else "")
        conv = Conversation([Message("user", user), Message("assistant", record["output"])],
                            _meta(record, "instruction", "input", "output"), "alpaca")
    else:
        raise ValueError("not a chat record: expected 'messages' (OpenAI), 'conversations' (ShareGPT or LIMA) "
                         "or 'instruction'/'output' (Alpaca)")
    if not any(m.role == "assistant" for m in conv.messages):
        raise ValueError("the conversation has no assistant turn to train on")
    return conv


def _meta(record: dict[str, Any], *used: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in used}


def _openai(messages: Any) -> list[Message]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"messages[{i}] needs a role ({'/'.join(ROLES)}) and a string content")
        out.append(Message(m["role"], m["content"]))
    return out


def _sharegpt(turns: Any) -> list[Message]:
    if not isinstance(turns, list) or not turns:
        raise ValueError("'conversations' must be a non-empty list")
    out = []
    for i, t in enumerate(turns):
        role = SHAREGPT_ROLES.get(str(t.get("from", "")).lower()) if isinstance(t, dict) else None
        if role is None or not isinstance(t.get("value"), str):
            raise ValueError(f"conversations[{i}] needs 'from' ({'/'.join(sorted(SHAREGPT_ROLES))}) and a string 'value'")
        out.append(Message(role, t["value"]))
    return out


def from_conversation(conv: Conversation, fmt: str) -> dict[str, Any]:
    """The record in format ``fmt`` (``FORMATS``); the other fields ride along."""
    if fmt == "messages":
        return {"messages": conv.as_dicts(), **conv.meta}
    if fmt == "sharegpt":
        back = {"user": "human", "assistant": "gpt", "system": "system"}
        return {"conversations": [{"from": back[m.role], "value": m.content} for m in conv.messages], **conv.meta}
    if fmt == "alpaca":
        roles = [m.role for m in conv.messages]
        if roles != ["user", "assistant"]:
            raise ValueError(f"Alpaca holds one user and one assistant turn; this conversation has {'/'.join(roles)}")
        return {"instruction": conv.messages[0].content, "input": "", "output": conv.messages[1].content, **conv.meta}
    raise ValueError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")


def convert_file(src: Path, dst: Path, *, fmt: str) -> dict[str, int]:
    """Convert every record of ``src`` to ``fmt`` into ``dst`` (JSON or JSONL by suffix), atomically."""
    if fmt not in FORMATS:
        raise ConfigError([Problem("", None, "--to", f"choose one of {', '.join(FORMATS)}")])
    out: list[dict[str, Any]] = []
    counts = {"read": 0, "written": 0, "skipped": 0}
    for where, rec in read_records(src):
        counts["read"] += 1
        try:
            out.append(from_conversation(to_conversation(rec), fmt))
        except ValueError as exc:
            counts["skipped"] += 1
            if counts["skipped"] <= 10:
                log.warning("%s:%s: skipped: %s", src, where, exc)
    write_records(dst, out)
    counts["written"] = len(out)
    return counts
