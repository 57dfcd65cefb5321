"""The instructions reader: instruction data as pretraining documents, rendered by a template."""

from __future__ import annotations

import gzip
import json

from dataforge.readers.base import READ_LABEL
from dataforge.readers.instructions import InstructionsParams, InstructionsReader
from dataforge.stats import Stats

RECS = [
    {"id": "a1", "instruction": "Name a colour.", "input": "", "output": "Blue."},
    {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."},
                  {"role": "user", "content": "Bye?"}, {"role": "assistant", "content": "Bye."}]},
    {"conversations": ["Why is the sky blue?", "Rayleigh scattering."]},
    {"text": "not an instruction"},
]


def read(path, **params):
    stats = Stats()
    reader = InstructionsReader(InstructionsParams(**params), source="inst", stats=stats)
    return list(reader.read(str(path))), stats


def test_every_format_becomes_a_document_rendered_by_the_template(tmp_path):
    src = tmp_path / "i.jsonl.gz"
    with gzip.open(src, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in RECS) + "\n{broken\n")
    docs, stats = read(src)
    assert [d.id for d in docs] == ["a1", f"inst/{src}:2", f"inst/{src}:3"]
    assert docs[0].text.startswith("Below is an instruction") and docs[0].text.endswith("### Response:Blue.")
    assert docs[1].text == "<|user|>\nHi?\n<|assistant|>\nHello.\n<|user|>\nBye?\n<|assistant|>\nBye.\n"  # multi-turn
    assert docs[2].text.endswith("### Instruction:\nWhy is the sky blue?\n\n### Response:Rayleigh scattering.")
    assert [d.meta["format"] for d in docs] == ["alpaca", "messages", "lima"]
    assert stats.get(READ_LABEL, "skipped.not_an_instruction", "inst") == 1
    assert stats.get(READ_LABEL, "skipped.bad_json", "inst") == 1


def test_plain_and_chat_templates(tmp_path):
    src = tmp_path / "i.json"
    src.write_text(json.dumps(RECS[:1]))
    plain, _ = read(src, template="plain")
    assert plain[0].text == "Name a colour.\n\nBlue."
    chat, _ = read(src, template="chat")
    assert chat[0].text == "<|user|>\nName a colour.\n<|assistant|>\nBlue.\n"
