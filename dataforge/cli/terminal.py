"""Text from data on a terminal: no escape sequences, no rich markup.

Crawled text, document ids, source names and reasons can hold ESC, C1 controls (CSI,
OSC, DCS: colours, hyperlinks, window titles, screen clears) and bidi overrides that
reorder what is shown; rich would also read ``[...]`` as markup. Everything printed
from data goes through ``printable`` (for ``markup=False`` prints) or ``cell`` (for rich
tables, titles and rules, which always parse markup).
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls but tab and newline, DEL, all C1 controls, and the bidi embedding,
# override and isolate controls (U+202A-202E, U+2066-2069)
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with every terminal control replaced by U+FFFD."""
    return _UNSAFE.sub("\ufffd", str(text))


def cell(text: object) -> str:
    """``printable`` and with rich markup escaped: for table cells, titles and rules."""
    return escape(printable(text))
