"""``dataforge judge``: AlpaGasus-style rating of instruction/response pairs, and a safety pass.

Each record is rated by the model with AlpaGasus's prompt (Chen et al. 2023,
arXiv:2307.08701, figure 3: accuracy on a 0-5 scale, the score on the first line;
``templates/judge_alpagasus.txt``). The score is parsed robustly (``parse_score``) and
written to the record (``score``); an answer with no usable score is counted
(``score.unparsable`` / ``score.out_of_range``) and gets ``score: null``.
``min_score`` keeps records scoring at least that; AlpaGasus kept 9k of Alpaca's 52k
at 4.5 (``ALPAGASUS_THRESHOLD``).

The safety pass (``safety.risk_categories``, a documented rule set) runs on the
instruction and input before any request: flagged records are counted per category,
carry ``safety: [categories]``, and with ``drop_unsafe`` are dropped without being
rated (nothing paid for them).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from .client import ClientConfig, Completion
from .state import RunState
from .harness import run_method
from .pipeline import run_ordered
from .prompts import load_template
from .records import read_instructions
from .safety import risk_categories

log = logging.getLogger(__name__)

ALPAGASUS_THRESHOLD = 4.5  # AlpaGasus section 3: tau = 4.5 kept 9,229 of 52,002 Alpaca records
SCALE_MAX = 5.0  # the prompt's 0-5 scale
JUDGE_SAMPLING: dict[str, Any] = {"temperature": 0.0, "max_tokens": 256}  # ours: the paper states no sampling

_NUMBER = r"(\d+(?:\.\d+)?)"
_FIRST_LINE = re.compile(rf"^[\s*#>_\-\[(]*(?:(?:score|rating)\s*[:=]?\s*)?\**\s*{_NUMBER}\s*(?:/\s*5(?:\.0)?)?\b",
                         re.IGNORECASE)
_LABELLED = re.compile(rf"\b(?:score|rating)\s*(?:is|of|:|=)?\s*\**\s*{_NUMBER}", re.IGNORECASE)
_OUT_OF_FIVE = re.compile(rf"\b{_NUMBER}\s*/\s*5(?:\.0)?\b")


def parse_score(answer: str) -> tuple[float | None, str | None]:
    """(score, None), or (None, 'unparsable' | 'out_of_range').

    Tried in order: a number opening the first non-empty line (``4.5``, ``**4**``,
    ``Score: 4/5``), a labelled score anywhere (``my rating is 3``), ``N/5`` anywhere."""
    lines = [line for line in answer.splitlines() if line.strip()]
    found = None
    if lines and (m := _FIRST_LINE.match(lines[0])):
        found = m.group(1)
    elif m := _LABELLED.search(answer) or _OUT_OF_FIVE.search(answer):
        found = m.group(1)
    if found is None:
        return None, "unparsable"
    value = float(found)
    if not math.isfinite(value) or not 0.0 <= value <= SCALE_MAX:
        return None, "out_of_range"
    return value, None


@dataclass(frozen=True)
class JudgeSettings:
    min_score: float | None = None  # None: keep every record (scores written, nothing dropped)
    safety: bool = True  # flag high-risk instructions (rules) and count them
    drop_unsafe: bool = False
    score_field: str = "score"
    sampling: tuple[tuple[str, Any], ...] = ()  # overrides of JUDGE_SAMPLING


def score_bin(score: float) -> str:
    return f"{math.floor(score * 2) / 2:.1f}"  # half-point bins: 4.5 holds [4.5, 5.0)


class JudgeMethod:
    def __init__(self, state: RunState, settings: JudgeSettings, records: Iterator[tuple[int, dict[str, Any]]]) -> None:
        self.state, self.settings, self.records = state, settings, records
        self.template = state.templates["judge_alpagasus.txt"] = load_template("judge_alpagasus.txt")
        self.params = {**JUDGE_SAMPLING, **dict(settings.sampling)}
        self.pending: dict[int, tuple[dict[str, Any], list[str]]] = {}

    def make(self, i: int) -> Any:
        try:
            _, rec = next(self.records)
        except StopIteration:
            return None
        st = self.state
        st.stats["read"] += 1
        flags = risk_categories(f"{rec['instruction']}\n{rec.get('input') or ''}") if self.settings.safety else []
        for cat in flags:
            st.stats[f"safety.{cat}"] += 1
        st.stats["safety.flagged"] += bool(flags)
        self.pending[i] = (rec, flags)
        if flags and self.settings.drop_unsafe:
            return _done(None)
        prompt = (self.template.text.replace("{instruction}", rec["instruction"])
                  .replace("{input}", str(rec.get("input") or "")).replace("{response}", str(rec.get("output") or "")))
        return st.ask(prompt, self.params)

    def handle(self, i: int, done: Completion | None) -> bool:
        st, settings = self.state, self.settings
        rec, flags = self.pending.pop(i)
        if flags and settings.drop_unsafe:
            st.stats["dropped.unsafe"] += 1
            return False
        score: float | None
        reason: str | None
        if done is None:
            st.stats["requests.failed"] += 1
            score, reason = None, "request_failed"
        else:
            score, reason = parse_score(done.text)
        if score is None:  # (then reason says why)
            st.stats[f"score.{reason}"] += 1
        else:
            st.stats[f"scores.{score_bin(score)}"] += 1
        if settings.min_score is not None and (score is None or score < settings.min_score):
            st.stats["dropped.low_score" if score is not None else "dropped.no_score"] += 1
            return False
        out = {**rec, settings.score_field: score}
        if flags:
            out["safety"] = flags
        st.writer.append(out, {"method": "judge", "model": st.client.config.model,
                               "template": self.template.provenance(), "answer": done.text if done else None,
                               "request": done.key[:16] if done else None})
        st.stats["kept"] += 1
        return False


async def _done(value: Any) -> Any:
    return value


def run_judge(settings: JudgeSettings, config: ClientConfig, *, src: Path, output: Path, api_key: str | None,
              cache_path: Path | None = None, prices_path: Path | None = None, price: str | None = None,
              sleep: Any = None) -> dict[str, Any]:
    if settings.min_score is not None and not 0.0 <= settings.min_score <= SCALE_MAX:
        raise ConfigError([Problem("", None, "--min-score", f"must be within the rubric's 0-{SCALE_MAX:g} scale")])
    records = read_instructions(src)

    def drive(state: RunState) -> Any:
        method = JudgeMethod(state, settings, iter(records))
        return run_ordered(method.make, method.handle, window=config.concurrency)

    def summary(state: RunState) -> dict[str, Any]:
        return {"settings": asdict(settings), "threshold_reference": {"alpagasus": ALPAGASUS_THRESHOLD},
                "kept": state.writer.count, "score_distribution": {
                    k.split(".", 1)[1]: v for k, v in sorted(state.stats.items()) if k.startswith("scores.")}}

    return run_method("judge", config, drive, output=output, api_key=api_key, cache_path=cache_path,
                      prices_path=prices_path, price=price, sleep=sleep, summary=summary)
