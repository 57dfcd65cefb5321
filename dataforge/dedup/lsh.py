"""LSH band layout from a Jaccard threshold."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_GRID = np.linspace(0.0, 1.0, 4001)


def _area(f: np.ndarray, lo: float, hi: float) -> float:
    m = (_GRID >= lo) & (_GRID <= hi)
    x, y = _GRID[m], f[m]
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2) if len(x) > 1 else 0.0


@lru_cache(maxsize=64)
def optimal_bands_rows(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands x rows (b*r <= num_perm) minimising false-positive area below ``threshold``
    plus false-negative area above it, equally weighted: datasketch MinHashLSH's rule.

    P(candidate | Jaccard s) = 1 - (1 - s^r)^b (Leskovec, Rajaraman, Ullman, MMDS ch. 3).
    """
    best, best_err = (1, 1), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1 - (1 - _GRID**r) ** b
            err = 0.5 * _area(p, 0.0, threshold) + 0.5 * _area(1 - p, threshold, 1.0)
            if err < best_err:
                best, best_err = (b, r), err
    return best


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """Probability that two documents of Jaccard ``s`` share at least one band."""
    return 1 - (1 - s**rows) ** bands
