"""Prompt templates (editable package files) and the prompt encoders of both methods.

The encoders render byte-for-byte what the originals send: Alpaca
``generate_instruction.py encode_prompt`` and Self-Instruct
``bootstrap_instructions.py encode_prompt``, ``identify_clf_or_not.py`` and
``generate_instances.py``. Sampling of in-context examples uses one RNG per request,
seeded from ``xxhash(seed, stage, request index)``, so a rerun samples the same
examples whatever the concurrency.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import xxhash

from ..errors import ConfigError, Problem

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Template:
    """A prompt template's text and where it came from (recorded in provenance)."""

    name: str
    text: str
    version: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def provenance(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


def load_template(name: str, *, directory: Path | None = None) -> Template:
    """Read template ``name`` from ``directory`` (a user's edited copy) or the package."""
    versions = _package_versions()
    if directory is not None:
        path = Path(directory) / name
        if not path.is_file():
            raise ConfigError([Problem(str(directory), None, "--templates-dir",
                                       f"no template '{name}' there; copy it from the package "
                                       f"(dataforge/selfinstruct/templates/{name}) and edit it")])
        text = path.read_bytes().decode("utf-8")
        version = "user:" + hashlib.sha256(text.encode()).hexdigest()[:12]
    else:
        text = (resources.files("dataforge.selfinstruct") / "templates" / name).read_bytes().decode("utf-8")
        version = versions.get(name, {}).get("version", "0")
    return Template(name=name, text=text, version=version)


def _package_versions() -> dict[str, Any]:
    raw = (resources.files("dataforge.selfinstruct") / "templates" / "templates.json").read_bytes()
    data: dict[str, Any] = json.loads(raw)
    return data


def request_rng(seed: int, stage: str, index: int) -> random.Random:
    """An RNG private to one request: a stable hash of (seed, stage, index), never hash()."""
    return random.Random(xxhash.xxh64_intdigest(f"{seed}:{stage}:{index}".encode()))


# -- Alpaca --------------------------------------------------------------------------


def alpaca_prompt(template: Template, examples: list[dict[str, str]]) -> str:
    """Alpaca's generation prompt for in-context ``examples`` (instruction/input/output).

    As ``encode_prompt`` in stanford_alpaca generate_instruction.py: the prompt.txt text,
    a newline, then per example a ``###`` line and numbered Instruction/Input/Output
    (empty input shown as ``<noinput>``), then ``###`` and the next number's
    ``Instruction:`` for the model to continue.
    """
    parts = [template.text, "\n"]
    for idx, ex in enumerate(examples, start=1):
        instruction = _WS.sub(" ", ex["instruction"]).strip().rstrip(":")
        inp = "<noinput>" if ex["input"].lower() == "" else ex["input"]
        parts.append(f"###\n{idx}. Instruction: {instruction}\n{idx}. Input:\n{inp}\n{idx}. Output:\n{ex['output']}\n")
    parts.append(f"###\n{len(examples) + 1}. Instruction:")
    return "".join(parts)


def sample_alpaca_examples(seeds: list[dict[str, str]], rng: random.Random, k: int) -> list[dict[str, str]]:
    """Alpaca samples ``num_prompt_instructions`` (3) seed tasks only, never generated ones."""
    return rng.sample(seeds, k)


# -- Self-Instruct -------------------------------------------------------------------


def bootstrap_prompt(header: Template, instructions: list[str]) -> str:
    """Self-Instruct's instruction-generation prompt: header, numbered tasks, next number."""
    parts = [header.text]
    for idx, inst in enumerate(instructions, start=1):
        parts.append(f"{idx}. {_WS.sub(' ', inst).strip().rstrip(':')}\n")
    parts.append(f"{len(instructions) + 1}.")
    return "".join(parts)


def sample_bootstrap_instructions(seeds: list[str], machine: list[str], rng: random.Random, *,
                                  num_prompt: int, num_machine: int) -> list[str]:
    """Up to ``num_machine`` (2) generated + the rest (of 8) human seeds, shuffled.

    bootstrap_instructions.py: ``random.sample(machine, min(2, len(machine)))``, then
    ``random.sample(seeds, 8 - len(...))``, then ``random.shuffle``.
    """
    chosen = rng.sample(machine, min(num_machine, len(machine)))
    chosen += rng.sample(seeds, num_prompt - len(chosen))
    rng.shuffle(chosen)
    return chosen


def clf_prompt(template: Template, instruction: str) -> str:
    """identify_clf_or_not.py: template + " " + instruction + newline + "Is it classification?"."""
    return template.text + " " + instruction.strip() + "\n" + "Is it classification?"


def instance_prompt(template: Template, instruction: str) -> str:
    """generate_instances.py: the output-first (clf) or input-first template + " " + task + newline."""
    return template.text + " " + instruction.strip() + "\n"
