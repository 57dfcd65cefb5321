"""A documented rule set that flags high-risk instructions (the survey: "reject high-risk instructions").

Categories follow Llama Guard's taxonomy (Inan et al. 2023, table 1: O1 violence and
hate, O2 sexual content, O3 guns and illegal weapons, O4 regulated or controlled
substances, O5 suicide and self harm, O6 criminal planning), with criminal planning
split into its two commonest instruction-data cases (malware/intrusion, fraud) and
sexual content restricted to minors (adult content is a policy choice, not a risk
class). The rules are ours: English regular expressions that ask for harmful *help*
(a verb of making or doing next to the harmful object), so "history of explosives" or
"how do vaccines work" are not flagged. A rule set is cheap, offline and auditable;
it is a first pass with recall well below a trained classifier: use ``judge --safety``
to count and inspect, and a safety model for a release.
"""

from __future__ import annotations

import re

_HOW = r"(?:how (?:do|can|could|would|should) (?:i|you|we|one)|how to|ways? to|steps? to|instructions? (?:for|to)|teach me to|help me|guide (?:to|for))"
_MAKE = r"(?:make|build|create|assemble|construct|synthesi[sz]e|cook|produce|manufacture|3d[- ]print|obtain|buy)"

#: category -> patterns (case-insensitive); a match flags the instruction with the category
RULES: dict[str, tuple[str, ...]] = {
    "violence_hate": (
        rf"{_HOW}\s+(?:kill|murder|poison|torture|kidnap|assault|stab|strangle)\b(?!\s+(?:myself|my ?self))",
        r"\b(?:plan|carry out|commit)\s+(?:a\s+)?(?:mass shooting|terrorist attack|massacre|genocide)\b",
        r"\bwhy (?:are|is)\s+\w+(?:\s\w+)?\s+(?:people\s+)?(?:inferior|subhuman|vermin)\b",
    ),
    "weapons": (
        rf"{_HOW}?\s*{_MAKE}\s+(?:a\s+|an\s+)?(?:bomb|pipe bomb|explosive|ied|molotov|grenade|napalm|ghost gun|silencer|suppressor|nerve agent|bioweapon|chemical weapon)s?\b",
        r"\bconvert\s+(?:a\s+)?(?:semi[- ]auto\w*\s+)?(?:rifle|gun|pistol)\s+(?:to|into)\s+(?:full[- ]auto|automatic)\b",
    ),
    "drugs": (
        rf"{_MAKE}\s+(?:meth(?:amphetamine)?|crack|cocaine|heroin|fentanyl|lsd|mdma|ghb)\b",
        r"\b(?:smuggle|sell|traffic)\s+(?:drugs|cocaine|heroin|fentanyl|meth)\b",
    ),
    "self_harm": (
        r"\b(?:best|painless|quickest|easiest)\s+(?:way|method)s?\s+to\s+(?:kill myself|commit suicide|end my life)\b",
        rf"{_HOW}\s+(?:kill myself|commit suicide|end my life|self[- ]harm|cut myself)\b",
    ),
    "sexual_minors": (
        r"\b(?:child|children|minor|underage|preteen|\d{1,2}[- ]year[- ]old)\b.{0,40}\b(?:sexual|sexy|nude|naked|porn\w*|erotic)\b",
        r"\b(?:sexual|nude|naked|porn\w*|erotic)\b.{0,40}\b(?:child|children|minor|underage|preteen)\b",
    ),
    "malware_intrusion": (
        rf"{_MAKE}\s+(?:a\s+)?(?:malware|ransomware|keylogger|trojan|botnet|rootkit|computer virus|worm)\b",
        rf"{_HOW}\s+(?:hack|break)\s+into\b",
        r"\b(?:steal|crack|dump)\s+(?:someone'?s?\s+|the\s+)?(?:passwords?|credentials|credit card numbers)\b",
        r"\bddos\s+(?:attack\s+)?(?:a|the|my)\b",
    ),
    "fraud": (
        rf"{_MAKE}\s+(?:a\s+)?(?:fake (?:id|passport|driver'?s license)|counterfeit (?:money|bills|currency))\b",
        r"\b(?:write|draft|create)\s+(?:a\s+)?phishing\s+(?:e-?mail|message|page|site)\b",
        rf"{_HOW}\s+(?:launder money|commit (?:tax |insurance )?fraud|evade taxes)\b",
    ),
}

_COMPILED = {cat: tuple(re.compile(p, re.IGNORECASE) for p in pats) for cat, pats in RULES.items()}


def risk_categories(text: str) -> list[str]:
    """The categories whose rules match ``text`` (sorted; empty when none does)."""
    return sorted(cat for cat, pats in _COMPILED.items() if any(p.search(text) for p in pats))
