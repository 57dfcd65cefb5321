"""Rendering a conversation with a chat template, and which characters the loss trains on.

The template is the tokenizer's own when it has one (``chat_template`` in the
``tokenizer_config.json`` beside the tokenizer file, as Hugging Face ships it: a string,
or a list of named templates whose ``default`` is used), a file given with
``--chat-template``, else ``DEFAULT_CHAT_TEMPLATE`` (Zephyr's: HuggingFaceH4/zephyr-7b-beta
``tokenizer_config.json``): ``<|role|>\\n{content}{eos}\\n`` per turn, ``<|assistant|>\\n``
as the generation prompt. Templates run in Jinja's sandbox with the settings
``transformers.apply_chat_template`` uses (``trim_blocks``, ``lstrip_blocks``,
``loopcontrols``; ``raise_exception``; ``bos_token``/``eos_token``).

Loss mask (``segments``): for each assistant turn i, what the template adds between
``render(messages[:i], add_generation_prompt=True)`` and ``render(messages[:i+1])`` is
that turn as the model must produce it, its end-of-turn token included: trained. The
whitespace after it, every other turn and the headers are not. A template whose
renderings of the prefixes are not prefixes of each other cannot be masked this way and
is refused with the turn where it diverged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from .chat import Conversation

DEFAULT_CHAT_TEMPLATE = ("{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}"
                         "{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


@dataclass(frozen=True)
class ChatTemplate:
    text: str
    source: str  # "default (zephyr)", a file path, or "<tokenizer_config.json path>"

    def provenance(self) -> dict[str, str]:
        return {"source": self.source, "sha256": hashlib.sha256(self.text.encode("utf-8")).hexdigest()}


def load_chat_template(tokenizer: Path, override: Path | None = None) -> ChatTemplate:
    if override is not None:
        if not Path(override).is_file():
            raise ConfigError([Problem(str(override), None, "--chat-template", "file not found")])
        return ChatTemplate(Path(override).read_text(encoding="utf-8"), str(override))
    config = Path(tokenizer).with_name("tokenizer_config.json")
    if config.is_file():
        try:
            found = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        except (ValueError, AttributeError) as exc:
            raise ConfigError([Problem(str(config), None, "chat_template", f"not readable JSON ({exc})")]) from exc
        if isinstance(found, list):  # [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
            found = next((t.get("template") for t in found if isinstance(t, dict) and t.get("name") == "default"), None)
        if isinstance(found, str) and found.strip():
            return ChatTemplate(found, str(config))
    return ChatTemplate(DEFAULT_CHAT_TEMPLATE, "default (zephyr-7b-beta)")


class ChatRenderer:
    """A compiled template (compiled once per run) and the segment split of the module docstring."""

    def __init__(self, template: ChatTemplate, *, eos_token: str, bos_token: str = "") -> None:
        from jinja2 import TemplateError  # deferred: jinja2 takes ~0.1 s to import; only chat templates use it
        from jinja2.ext import loopcontrols  # deferred: as above
        from jinja2.sandbox import ImmutableSandboxedEnvironment  # deferred: as above

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.globals["raise_exception"] = raise_exception
        self.source = template.source
        try:
            self._template = env.from_string(template.text)
        except TemplateError as exc:
            raise ConfigError([Problem(template.source, None, "chat_template", f"not a valid Jinja template ({exc})")]) from exc
        self._vars = {"eos_token": eos_token, "bos_token": bos_token}
        self._error = TemplateError

    def render(self, messages: list[dict[str, str]], *, add_generation_prompt: bool = False) -> str:
        try:
            return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt, **self._vars)
        except self._error as exc:
            raise ValueError(f"the chat template refused the conversation ({exc})") from None

    def segments(self, conv: Conversation) -> list[tuple[str, bool]]:
        """(text, trained) pieces whose concatenation is the rendered conversation."""
        messages = conv.as_dicts()
        out: list[tuple[str, bool]] = []
        covered = ""
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            prefix = self.render(messages[:i], add_generation_prompt=True)
            full = self.render(messages[:i + 1])
            if not prefix.startswith(covered) or not full.startswith(prefix):
                raise ValueError(f"the chat template ({self.source}) does not render turn {i} as a continuation of "
                                 "the turns before it, so the loss cannot be masked to assistant turns")
            turn = full[len(prefix):]
            trained = turn.rstrip()
            out += [(prefix[len(covered):], False), (trained, True)]
            covered = prefix + trained
        whole = self.render(messages)
        if not whole.startswith(covered):
            raise ValueError(f"the chat template ({self.source}) renders the whole conversation differently from its turns")
        out.append((whole[len(covered):], False))
        return [(text, trained) for text, trained in out if text]


def encode_segments(tok: Any, segments: list[tuple[str, bool]]) -> tuple[list[int], list[int]]:
    """Token ids and a 0/1 target mask; each piece tokenized alone, so the boundary is exact."""
    ids: list[int] = []
    mask: list[int] = []
    for text, trained in segments:
        piece = tok.encode(text, add_special_tokens=False).ids
        ids += piece
        mask += [int(trained)] * len(piece)
    if mask:
        mask[0] = 0  # position 0 is never predicted
    return ids, mask
