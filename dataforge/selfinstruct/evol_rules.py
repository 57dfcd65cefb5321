"""Evol-Instruct's elimination rules (Xu et al. 2023, WizardLM, section 3.3), as pure functions.

An evolution fails, and its instruction goes back to the pool unchanged, when:

1. it adds no information: the model judges the two instructions ``Equal`` (Appendix G
   prompt) -> ``no_information_gain``;
2. the model struggles to answer it: the answer contains "sorry" and has fewer than 80
   words -> ``cannot_answer``;
3. the answer holds only punctuation and stop words -> ``answer_only_stopwords``;
4. it copies words of the evolving prompt ("given prompt", "rewritten prompt",
   "#Rewritten Prompt#", ...) -> ``copies_prompt``.

Ours on top: an empty evolution -> ``empty``. The paper names no stop-word list; ours
is below (English function words).
"""

from __future__ import annotations

import re
import string

SORRY_MAX_WORDS = 80  # section 3.3: "contains 'sorry' and is relatively short in length (i.e., less than 80 words)"
#: section 3.3's examples, and the other labels the evolving prompts use
PROMPT_WORDS = ("given prompt", "rewritten prompt", "created prompt", "#rewritten prompt#", "#created prompt#",
                "#given prompt#", "#the given prompt#")
STOP_WORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now
of off on once only or other our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself yourselves ok okay yes""".split())
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def copies_prompt(instruction: str) -> bool:
    low = instruction.lower()
    return any(word in low for word in PROMPT_WORDS)


def judged_equal(answer: str) -> bool:
    """The Appendix G judgement: 'Equal' (and not 'Not Equal')."""
    low = " ".join(answer.lower().split())
    return "equal" in low and "not equal" not in low and "unequal" not in low


def cannot_answer(answer: str) -> bool:
    return "sorry" in answer.lower() and len(answer.split()) < SORRY_MAX_WORDS


def only_stopwords(answer: str) -> bool:
    """Nothing but punctuation, whitespace and stop words (an empty answer included)."""
    if answer.strip(string.punctuation + string.whitespace) == "":
        return True
    return all(w.lower() in STOP_WORDS for w in _WORD.findall(answer))


def evolution_reason(instruction: str) -> str | None:
    """The rules that need no model: checked before any further request is paid for."""
    if not instruction.strip():
        return "empty"
    if copies_prompt(instruction):
        return "copies_prompt"
    return None


def answer_reason(answer: str) -> str | None:
    if cannot_answer(answer):
        return "cannot_answer"
    if only_stopwords(answer):
        return "answer_only_stopwords"
    return None
