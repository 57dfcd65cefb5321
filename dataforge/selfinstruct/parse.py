"""Response parsing and the published filters, as small pure functions with reasons.

Each rule returns a rejection reason (a short stable string, counted in the run
summary) or None. Sources, all faithful to the originals:

* Alpaca: stanford_alpaca generate_instruction.py ``post_process_gpt3_response``;
* Self-Instruct instructions: bootstrap_instructions.py ``post_process_gpt3_response``;
* Self-Instruct instances: prepare_for_finetuning.py ``parse_input_output``,
  ``parse_instances_for_{generation,classification}_task``, ``filter_invalid_instances``,
  ``filter_duplicate_instances``.

One difference from the originals, on purpose: Alpaca parsing also applies
``instance_reason`` to each item's output (dropping outputs that are empty, equal to
the input, or end in ":"; about 0.2% of the real Alpaca records), which
``post_process_gpt3_response`` does not: such records teach nothing or are cut off.
Everything else (prompts, post-processing, instance parsing, ROUGE-L decisions) gives
the originals' results on the same inputs.

Chat models answer in a message instead of continuing the prompt, and sometimes repeat
the number the prompt ends with ("4. Instruction:", "9."): ``chat=True`` drops that
echo before the original parsing runs; completions are parsed exactly as published.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

# Alpaca's 18 blacklisted words (generate_instruction.py); Self-Instruct uses the first 13.
ALPACA_BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
                    "map", "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart",
                    "diagram")
SELF_INSTRUCT_BLACKLIST = ALPACA_BLACKLIST[:13]
MIN_WORDS_EXCLUSIVE = 3  # both: len(inst.split()) <= 3 is rejected
MAX_WORDS = 150  # both: len(inst.split()) > 150 is rejected

_BLACKLIST_RES: dict[str, re.Pattern[str]] = {}
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Parsed:
    """One item from a response: the fields, or the reason it was rejected."""

    instruction: str
    input: str = ""
    output: str = ""
    reason: str | None = None


def _word_re(word: str) -> re.Pattern[str]:
    pat = _BLACKLIST_RES.get(word)
    if pat is None:
        pat = _BLACKLIST_RES[word] = re.compile(r"\b({0})\b".format(re.escape(word)), flags=re.IGNORECASE)
    return pat


def instruction_reason(inst: str, blacklist: tuple[str, ...]) -> str | None:
    """The instruction rules shared by both methods, in the originals' order."""
    words = len(inst.split())
    if words <= MIN_WORDS_EXCLUSIVE:
        return "too_short"
    if words > MAX_WORDS:
        return "too_long"
    for word in blacklist:
        if _word_re(word).search(inst):
            return "blacklist"
    if inst.startswith("Write a program"):
        return "write_a_program"
    if inst[0] in string.punctuation:
        return "starts_with_punctuation"
    if not inst[0].isascii():
        return "starts_non_ascii"
    return None


def instance_reason(inp: str, out: str, *, check_input_colon: bool = True) -> str | None:
    """filter_invalid_instances: output equal to input, empty output, a trailing colon."""
    if inp == out:
        return "output_equals_input"
    if out == "":
        return "empty_output"
    if (check_input_colon and inp.strip().endswith(":")) or out.strip().endswith(":"):
        return "ends_with_colon"
    return None


def _drop_echo(text: str, marker: str) -> tuple[str, bool]:
    """Chat answers may open with ``###`` lines and the number the prompt ended on."""
    stripped = re.sub(r"^(\s*###\s*)+", "", text).lstrip()
    m = re.match(marker, stripped)
    return (stripped[m.end():], True) if m else (text, False)


# -- Alpaca --------------------------------------------------------------------------


def parse_alpaca(text: str, finish_reason: str | None, *, num_prompt: int, chat: bool = False) -> list[Parsed]:
    """Split a response into ``###`` segments of numbered Instruction/Input/Output and filter.

    Beyond the original: the output rules of ``instance_reason`` (empty, equal to the
    input, ending in ":") also apply here; see the module docstring."""
    first = num_prompt + 1
    if chat:
        text, _ = _drop_echo(text, rf"{first}\.\s+Instruction:")
    segments = re.split("###", f"{first}. Instruction:" + text)
    items: list[Parsed] = []
    for i, seg in enumerate(segments):
        if i == len(segments) - 1 and finish_reason == "length":
            # the decoding stopped on length: the last example is likely cut off
            items.append(Parsed(instruction=seg.strip(), reason="truncated"))
            continue
        num = i + first
        parts = re.split(rf"{num}\.\s+(Instruction|Input|Output):", seg)
        if len(parts) != 7:
            items.append(Parsed(instruction=seg.strip(), reason="malformed"))
            continue
        inst = parts[2].strip()
        inp = parts[4].strip()
        inp = "" if inp.lower() == "<noinput>" else inp
        out = parts[6].strip()
        reason = instruction_reason(inst, ALPACA_BLACKLIST) or instance_reason(inp, out, check_input_colon=False)
        items.append(Parsed(instruction=inst, input=inp, output=out, reason=reason))
    return items


# -- Self-Instruct -------------------------------------------------------------------


def parse_bootstrap(text: str, finish_reason: str | None, *, num_prompt: int, chat: bool = False) -> list[Parsed]:
    """Numbered instructions after the prompt's last number; the whole response is
    discarded when decoding stopped on length (bootstrap_instructions.py)."""
    if finish_reason == "length":
        return [Parsed(instruction=text.strip(), reason="truncated")]
    if chat:
        text, _ = _drop_echo(text, rf"{num_prompt + 1}\s?\.")
    items: list[Parsed] = []
    for raw in re.split(r"\n\d+\s?\. ", text):
        inst = _WS.sub(" ", raw).strip().capitalize()
        if inst == "":
            continue
        items.append(Parsed(instruction=inst, reason=instruction_reason(inst, SELF_INSTRUCT_BLACKLIST)))
    return items


def is_classification(answer: str) -> bool:
    """identify_clf_or_not.py / generate_instances.py: the answer stripped is Yes/yes/YES."""
    return answer.strip() in ("Yes", "yes", "YES")


def _split_input_output(text: str) -> tuple[str, str]:
    """parse_input_output: text before ``Output N:`` is the input, after it the output."""
    if re.findall(r"Output\s*\d*\s*:", text):
        pieces = re.split(r"Output\s*\d*\s*:", text)
        inp, out = pieces[0].strip(), pieces[1].strip()
    else:
        inp, out = "", text.strip()
    if re.findall(r"Input\s*\d*\s*:", out):  # several pairs generated: keep the first output
        out = re.split(r"Input\s*\d*\s*:", out)[0].strip()
    inp = re.sub(r"^Input\s*\d*\s*:", "", inp).strip()
    return inp, out


def parse_instances(text: str, finish_reason: str | None, *, instruction: str,
                    classification: bool) -> tuple[list[Parsed], str | None]:
    """Instances of one task, each with its rejection reason; plus a task-level reason.

    The task-level reason (``no_instances``, ``same_input_different_output``) means no
    instance of the task is kept.
    """
    inst = instruction.strip()
    pairs: list[tuple[str, str]] = []
    if classification:
        if "Class label:" not in text:
            return [], "no_instances"
        for chunk in text.split("Class label:")[1:]:
            fields = chunk.strip().split("\n", 1)
            label = fields[0].strip()
            pairs.append(((fields[1].strip() if len(fields) == 2 else ""), label))
    else:
        body = text.strip()
        if re.findall(r"Example\s?\d*\.?", body):
            chunks = [c.strip() for c in re.split(r"Example\s?\d*\.?", body) if c.strip() != ""]
            pairs = [_split_input_output(c) for c in chunks]
        elif re.findall(r"Output\s*\d*\s*:", body):
            pairs = [_split_input_output(body)]
        else:
            return [], "no_instances"
    items = [Parsed(instruction=inst, input=i.strip(), output=o.strip()) for i, o in pairs]
    if finish_reason == "length" and items:  # generation stopped on length: drop the last
        items[-1] = Parsed(inst, items[-1].input, items[-1].output, reason="truncated")
    items = [it if it.reason else Parsed(inst, it.input, it.output, instance_reason(it.input, it.output))
             for it in items]
    return _dedupe(items)


def _dedupe(items: list[Parsed]) -> tuple[list[Parsed], str | None]:
    """filter_duplicate_instances: same non-empty input with different outputs voids the
    task; exact duplicates are dropped (first occurrence kept, for determinism)."""
    valid = [it for it in items if it.reason is None]
    for i, a in enumerate(valid):
        for b in valid[:i]:
            if a.input != "" and a.input == b.input and a.output != b.output:
                return items, "same_input_different_output"
    seen: set[tuple[str, str]] = set()
    out: list[Parsed] = []
    for it in items:
        if it.reason is None:
            if (it.input, it.output) in seen:
                it = Parsed(it.instruction, it.input, it.output, reason="duplicate_instance")
            seen.add((it.input, it.output))
        out.append(it)
    return out, None
