"""Planted near-duplicates in real text, with exact Jaccard as ground truth."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dataforge.dedup.normalize import Normalize, shingles, words
from dataforge.document import Document

BOILERPLATE = "Home | About us | Contact | Privacy policy | Terms of use | Subscribe to our newsletter today"


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa = set(shingles(words(a, Normalize()), n))
    sb = set(shingles(words(b, Normalize()), n))
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def variant(text: str, rng: random.Random, rate: float) -> str:
    """Edit ``text``: substitute or insert words at ``rate``, sometimes add a header."""
    ws = text.split()
    out = []
    for w in ws:
        r = rng.random()
        if r < rate / 2:
            out.append(f"zq{rng.randrange(10**6)}")  # substitution
        elif r < rate:
            out.extend([w, f"xv{rng.randrange(10**6)}"])  # insertion
        else:
            out.append(w)
    if rng.random() < 0.3:
        out = BOILERPLATE.split() + out
    return " ".join(out)


def distinct_texts(texts: list[str]) -> list[str]:
    """Texts sharing < 5 % of their shingles with earlier ones (C4 holds a few near-duplicates)."""
    out, seen = [], set()
    for t in texts:
        sh = set(shingles(words(t, Normalize()), 5))
        if len(sh & seen) < 0.05 * len(sh):
            out.append(t)
            seen |= sh
    return out


@dataclass
class Pair:
    a: Document
    b: Document
    jaccard: float


def planted_pairs(texts: list[str], *, seed: int = 7, min_words: int = 120) -> list[Pair]:
    """One edited copy per long base text, edit rates spread from 0 to 20 %."""
    rng = random.Random(seed)
    bases = distinct_texts([t for t in texts if len(t.split()) >= min_words])
    pairs = []
    for i, t in enumerate(bases):
        rate = rng.choice([0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.15, 0.2])
        v = variant(t, rng, rate)
        pairs.append(Pair(Document(f"base{i}", t, "web"), Document(f"copy{i}", v, "web"), jaccard(t, v)))
    return pairs
