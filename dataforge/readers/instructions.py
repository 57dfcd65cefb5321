"""Instruction data as a pretraining input: each record rendered to one document's text.

GLM-130B and Galactica put a small share of instruction-formatted data into
pretraining (Zhao et al. 2023 survey, section 4.1); this reader lets a pipeline do the
same (``reader: instructions`` on an input, with its ``weight`` in the mix). Records
are Alpaca, OpenAI messages, ShareGPT or LIMA (``selfinstruct.chat``), from JSONL
(compressed too) or a JSON array, and are rendered by ``template``:

* ``alpaca``: Alpaca's ``PROMPT_DICT`` prompt followed by the response, as Alpaca
  trains on it (a multi-turn chat falls back to the chat template);
* ``chat``: the chat template (``chat_template`` file, else Zephyr's default) with no
  end-of-turn token, since the tokenizer stage appends the EOS per document;
* ``plain``: instruction, input and output separated by blank lines.

Skipped and counted: ``bad_json``, ``not_an_instruction`` (a record that fits no
format), ``truncated_file``. The id is the record's ``id_field``, else ``source/file:line``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ..document import Document
from ..selfinstruct.chat import Conversation, to_conversation
from ..selfinstruct.chat_template import DEFAULT_CHAT_TEMPLATE, ChatRenderer, ChatTemplate
from ..selfinstruct.sft import load_sft_template, render_prompt
from .base import Reader, ReaderParams, Span
from .lines import TruncatedInput, iter_lines


class InstructionsParams(ReaderParams):
    """Options of the ``instructions`` reader."""

    # how a record becomes text (see the module docstring); alpaca = Alpaca's PROMPT_DICT
    template: Literal["alpaca", "chat", "plain"] = "alpaca"
    # a Jinja chat template file for template: chat (None: Zephyr's, documented in chat_template.py)
    chat_template: str | None = None
    # field holding a stable id; absent -> source/file:line
    id_field: str | None = "id"


class InstructionsReader(Reader[InstructionsParams]):
    """Reads instruction files, one Document per record."""

    Params = InstructionsParams
    suffixes = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json")

    def __init__(self, params: InstructionsParams, *, source: str, stats: Any) -> None:
        super().__init__(params, source=source, stats=stats)
        self._renderer: Any = None
        self._prompts: dict[str, str] | None = None

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:  # span: whole files only
        for where, rec in self._records(path):
            try:
                conv = to_conversation(rec)
            except ValueError as exc:
                self.skip(path, where, "not_an_instruction", str(exc))
                continue
            text = self.render(rec, conv)
            raw_id = rec.get(self.params.id_field) if self.params.id_field else None
            doc_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else self.doc_id(path, where)
            meta = {"format": conv.source_format, **{k: v for k, v in conv.meta.items() if k != self.params.id_field}}
            yield Document(id=doc_id, text=text, source=self.source, meta=meta)

    def _records(self, path: str) -> Iterator[tuple[int, Any]]:
        if path.endswith(".json"):
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            yield from enumerate(data if isinstance(data, list) else [data], start=1)
            return
        lineno = 0
        try:
            for lineno, raw in enumerate(iter_lines(path), start=1):
                if raw.strip():
                    try:
                        yield lineno, json.loads(raw)
                    except ValueError as exc:
                        self.skip(path, lineno, "bad_json", str(exc))
        except TruncatedInput as exc:
            self.skip(path, lineno + 1, "truncated_file", f"{exc}; rest of file skipped")

    def render(self, rec: dict[str, Any], conv: Conversation) -> str:
        p = self.params
        single = [m.role for m in conv.messages] == ["user", "assistant"]
        if p.template == "plain":
            if isinstance(rec.get("instruction"), str):
                parts = [rec["instruction"], str(rec.get("input") or ""), str(rec.get("output") or "")]
            else:
                parts = [m.content for m in conv.messages]
            return "\n\n".join(part for part in parts if part)
        if p.template == "alpaca" and (single or isinstance(rec.get("instruction"), str)):
            if self._prompts is None:
                self._prompts = load_sft_template(None)[0]
            fields = rec if isinstance(rec.get("instruction"), str) else {
                "instruction": conv.messages[0].content, "input": "", "output": conv.messages[1].content}
            return render_prompt(self._prompts, fields) + str(fields.get("output") or "")
        return self._chat().render(conv.as_dicts())

    def _chat(self) -> Any:
        if self._renderer is None:
            path = self.params.chat_template
            template = (ChatTemplate(Path(path).read_text(encoding="utf-8"), path) if path
                        else ChatTemplate(DEFAULT_CHAT_TEMPLATE, "default (zephyr-7b-beta)"))
            self._renderer = ChatRenderer(template, eos_token="")
        return self._renderer
