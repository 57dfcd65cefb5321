"""spaCy-compatible splitting of one whitespace-free chunk into word tokens.

Reproduces, without spaCy, what ``spacy.blank("en")``'s tokenizer does to a chunk
(spaCy 3.x, ``spacy/lang/punctuation.py`` and ``spacy/lang/en/tokenizer_exceptions.py``):

1. exceptions are looked up first (contractions such as ``don't`` -> ``do`` ``n't`` and
   ``dont`` -> ``do`` ``nt``, times such as ``5pm``, abbreviations such as ``Mr.``,
   emoticons);
2. a prefix (opening punctuation, quotes, currency, symbols, ``..``) and a suffix
   (closing punctuation, quotes, ``'s``, units after digits, a final ``.`` after a
   lowercase letter or two capitals) are peeled off in turn;
3. what is left stays whole if it looks like a URL, e-mail or domain, else it is cut at
   infixes (``...``, hyphens and ``:<>=/`` between letters, ``,`` between letters,
   ``.`` between a lowercase and a capital letter, ``+-*^`` between digits);
4. exceptions that step 2 split are joined back (``vs.State`` -> ``vs.`` ``State``).

The exception list is the common part of spaCy's (about 1,300 entries there; the rare
ones, e.g. ``'cause``-style archaic forms beyond those listed, are left out).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def _category_classes(limit: int = 0x20000) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Per Unicode category, for code points below ``limit``: a regex character-class body
    and the set of characters."""
    points: dict[str, list[int]] = {}
    for c in range(limit):
        points.setdefault(unicodedata.category(chr(c)), []).append(c)
    classes = {cat: _ranges(p) for cat, p in points.items()}
    return classes, {cat: frozenset(map(chr, p)) for cat, p in points.items()}


def _ranges(points: list[int]) -> str:
    ranges: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        lo, hi = re.escape(chr(points[i])), re.escape(chr(points[j]))
        ranges.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(ranges)


_CATEGORY, _CATEGORY_CHARS = _category_classes()
# emoji, dingbats and other symbols (Unicode "So"): spaCy splits them off as tokens
_ICONS = _CATEGORY["So"]  # regex class body
# spaCy's ALPHA_LOWER / ALPHA_UPPER include the uncased scripts (CJK, Hangul, Arabic, ...)
_LOWER = _CATEGORY["Ll"] + _CATEGORY["Lo"]
_UPPER = _CATEGORY["Lu"] + _CATEGORY["Lo"]
_ALPHA = "".join(_CATEGORY[c] for c in ("Lu", "Ll", "Lt", "Lm", "Lo"))

# --- chunk splitting rules (after spaCy's English prefix/suffix/infix rules) -------------
_OPEN_CLOSE = "…,:;!?¿¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_QUOTES = "'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧"
_CURRENCY = "$£€¥฿₽﷼₴₠₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₵₶₷₸₹₺₻₼₾₿"
# single characters peeled off the front (spaCy: "§ % = — –", LIST_PUNCT, LIST_QUOTES, LIST_CURRENCY, icons)
_PREFIX_CHARS = frozenset("§%=—–" + _OPEN_CLOSE + _QUOTES + _CURRENCY) | _CATEGORY_CHARS["So"]
# single characters peeled off the back (LIST_PUNCT, LIST_QUOTES, icons, dashes)
_SUFFIX_CHARS = frozenset(_OPEN_CLOSE + _QUOTES + "—–") | _CATEGORY_CHARS["So"]
# a final "." is a suffix after these (a lowercase or uncased letter, a digit, some punctuation)
_DOT_AFTER = (
    frozenset("0123456789%²-+|" + _OPEN_CLOSE + _QUOTES) | _CATEGORY_CHARS["Ll"] | _CATEGORY_CHARS["Lo"]
)
_UPPER_CHARS = _CATEGORY_CHARS["Lu"] | _CATEGORY_CHARS["Lo"]
_UNITS = (
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz "
    "m/s km/h kmh mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K %"
).split()
# suffixes that need a digit before them: "+", currency, units ("10km", "5%")
_DIGIT_SUFFIX = re.compile(
    r"(?<=[0-9])(?:\+|[" + re.escape(_CURRENCY) + "]|"
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + ")$"
)
_DIGIT_SUFFIX_LAST = frozenset("+" + _CURRENCY + "".join(u[-1] for u in _UNITS))
_LETTER = "[" + _ALPHA + "]"
_INFIX = re.compile(
    r"\.\.+|…|[" + _ICONS + "]"
    r"|(?<=[0-9])[+\-*^](?=[0-9-])"
    r"|(?<=[" + _LOWER + r"'\"”“`‘´’])\.(?=[" + _UPPER + r"'\"”“`‘´’])"
    rf"|(?<={_LETTER}),(?={_LETTER})"
    rf"|(?<=[{_ALPHA}0-9])(?:---|--|——|[-–—~])(?={_LETTER})"
    rf"|(?<=[{_ALPHA}0-9])[:<>=/](?={_LETTER})"
)
# URLs, e-mails and domain names stay one token (host characters as in spaCy's URL_MATCH)
_URL = re.compile(
    r"^(?:[\w+.-]{2,}://)?(?:\S+(?::\S*)?@)?"
    r"(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"
    r"[" + _CATEGORY["Ll"] + r"]{2,63}(?::\d{2,5})?(?:[/?#]\S*)?$"
)
# Chunks spaCy's English tokenizer treats as exceptions (spacy/lang/en/tokenizer_exceptions.py):
# contractions with and without the apostrophe, times, abbreviations, emoticons.
_NT_VERBS = "ca could do does did had may might must need ought sha should wo would ai are is was were have has dare"
_CLITICS = {  # stem -> clitics spaCy splits off it ("'s" with or without the apostrophe)
    "i": "m ll d ve", "you": "ll d ve re", "he": "ll d s", "she": "ll d s", "it": "ll d s",
    "we": "ll d ve re", "they": "ll d ve re", "that": "s ll d", "this": "s ll d",
    "these": "ll re ve d", "those": "ll re ve d",
    **{w: "s ll re ve d" for w in "who what when where why how there".split()},
    **{v: "ve" for v in "could might must should would".split()},
}
_ABBREVIATIONS = (
    "a.m. p.m. Adm. Bros. co. Co. Corp. D.C. Dr. e.g. E.g. E.G. Gen. Gov. i.e. I.e. I.E. Inc. Jr. Ltd. "
    "Md. Messrs. Mo. Mont. Mr. Mrs. Ms. Ph.D. Prof. Rep. Rev. Sen. St. vs. v.s. Mt. Id. Ill. Ind. "
    "Jan. Feb. Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec. Ak. Ala. Ariz. Ark. Calif. Colo. "
    "Conn. Del. Fla. Ga. Ia. Kan. Kans. Ky. La. Mass. Mich. Minn. Miss. N.C. N.D. N.H. N.J. N.M. N.Y. "
    "Neb. Nebr. Nev. Okla. Ore. Pa. S.C. Tenn. Va. Wash. Wis. ä. ö. ü. w/o and/or C++ "
    "' '' ’ ’’ 's 'S ’s ’S ‘s ‘S 'd ’d 'em ’em 'cause ’cause 'bout ’bout 'nuff ’nuff "
    "doin doin' goin goin' nothin nothin' nothin’ nuthin nuthin' ol ol' ol’ somethin somethin' "
)
# emoticons: spaCy also merges them back when its affix rules split them ("(1):" -> "(" "1" "):")
_EMOTICONS = (
    ":) :-) :)) :-)) :))) :-))) (: (-: =) (= :] :-] [: [-: [= =] :o) (o: :} :-} 8) 8-) (-8 ;) ;-) (; (-; "
    ":( :-( :(( :-(( :((( :-((( ): )-: =( >:( :') :'-) :'( :'-( :/ :-/ =/ :| =| :-| ]= =[ :1 :P :-P :p :-p "
    ":O :-O :o :-o :0 :-0 :() >:o :* :-* :3 :-3 =3 :> :-> :X :-X :x :-x :D :-D ;D ;-D =D xD XD xDD XDD 8D 8-D "
    "^_^ ^__^ ^___^ >.< >.> <.< ._. ;_; -_- -__- v.v V.V v_v V_V o_o o_O O_o O_O 0_o o_0 0_0 o.o O.O 0.o "
    "o.0 O.o o.O <3 <33 <333 </3 @_@ (>_<) (^_^) (*_*) (-_-) (._.) (¬_¬) ಠ_ಠ (ಠ_ಠ) ¯\\(ツ)/¯"
)
_EXCLUDED = frozenset("Ill ill Its its Hell hell Shell shell Shed shed were Were Well well Whore whore".split())


def _build_specials() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {a: (a,) for a in (_ABBREVIATIONS + _EMOTICONS).split()}
    out.update({f"{c}.": (f"{c}.",) for c in "abcdefghijklmnopqrstuvwxyz"})
    for stem0 in _NT_VERBS.split():
        for stem in (stem0, stem0.title()):
            for nt in ("n't", "n’t", "nt"):
                out[stem + nt] = (stem, nt)
    for stem0, clitics in _CLITICS.items():
        for stem in (stem0, stem0.title()):
            for c in clitics.split():
                for form in (c, "'" + c, "’" + c):
                    out[stem + form] = (stem, form)
    for unit in "CFKcfk":  # "50°C." -> 50 ° C .
        out[f"°{unit}."] = ("°", unit, ".")
    for h in range(1, 13):
        for period in ("am", "a.m.", "pm", "p.m."):
            out[f"{h}{period}"] = (str(h), period)
    for word, parts in {"cannot": ("can", "not"), "gonna": ("gon", "na"), "gotta": ("got", "ta"),
                        "let's": ("let", "'s"), "let’s": ("let", "’s"), "y'all": ("y'", "all"),
                        "y’all": ("y’", "all"), "ima": ("i", "m", "a"), "i'ma": ("i", "'m", "a"),
                        "c'mon": ("c'm", "on"), "c’mon": ("c’m", "on")}.items():
        out[word] = parts
        out[word.title()] = (parts[0].title(), *parts[1:])
    for word in _EXCLUDED:
        out.pop(word, None)
    return out


SPECIALS = _build_specials()


@lru_cache(maxsize=1 << 17)
def split_chunk(chunk: str) -> tuple[str, ...]:
    """Split one whitespace-free chunk into tokens, in spaCy's order: exceptions, then
    prefixes and suffixes peeled off in turn, then URL or infix splitting of the rest,
    then exceptions the affix rules had split are joined back."""
    return _merge_specials(_split(chunk, SPECIALS))


def _split(chunk: str, specials: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    prefixes: list[str] = []
    suffixes: list[str] = []
    s = chunk
    last = -1
    while s and len(s) != last and s not in specials:
        last = len(s)
        pre = _prefix_len(s)
        if pre and s[pre:] in specials:
            prefixes.append(s[:pre])
            s = s[pre:]
            break
        suf = _suffix_len(s[pre:])
        if suf and s[: len(s) - suf] in specials:
            suffixes.append(s[len(s) - suf :])
            s = s[: len(s) - suf]
            break
        if pre and suf and pre + suf <= len(s):
            prefixes.append(s[:pre])
            suffixes.append(s[len(s) - suf :])
            s = s[pre : len(s) - suf]
        elif pre:
            prefixes.append(s[:pre])
            s = s[pre:]
        elif suf:
            suffixes.append(s[len(s) - suf :])
            s = s[: len(s) - suf]
    if not s:
        middle: tuple[str, ...] | list[str] = ()
    elif s in specials:
        middle = specials[s]
    elif "." in s and _URL.match(s):
        middle = (s,)
    else:
        middle = _split_infixes(s)
    return (*prefixes, *middle, *reversed(suffixes))


def _merge_specials(toks: tuple[str, ...]) -> tuple[str, ...]:
    """Apply exceptions that the affix rules split ("vs.State" -> "vs" "." "State" ->
    "vs." "State"): spaCy matches them on the token sequence after splitting. Longest
    first, left to right."""
    if len(toks) < 2 or not _MERGE_FIRST.intersection(toks):
        return toks
    out: list[str] = []
    i = 0
    while i < len(toks):
        for n in (4, 3, 2) if toks[i] in _MERGE_FIRST else ():
            merged = _MERGE.get(toks[i : i + n])
            if merged is not None:
                out.extend(merged)
                i += n
                break
        else:
            out.append(toks[i])
            i += 1
    return tuple(out)


def _build_merges() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Rule-split form -> exception tokens, for exceptions the affix rules would split."""
    out = {}
    for key, toks in SPECIALS.items():
        ruled = _split(key, {})
        if 2 <= len(ruled) <= 4 and ruled != toks:
            out[ruled] = toks
    return out


def _prefix_len(s: str) -> int:
    c = s[0]
    if c in _PREFIX_CHARS:
        return 1
    if s.startswith(".."):  # a run of dots
        return len(s) - len(s.lstrip("."))
    if c == "+" and not s[1:2].isdigit():
        return 1
    if s.startswith(("US$", "C$", "A$")):
        return s.index("$") + 1
    return 0


def _suffix_len(s: str) -> int:
    """Length of the suffix spaCy's suffix_search finds (its leftmost match ending at the end)."""
    if not s:
        return 0
    if s.endswith(".."):  # a run of dots, however long
        return len(s) - len(s.rstrip("."))
    if s.endswith("……") or (s[-1] in "sS" and s[-2:-1] in ("'", "’")):
        return 2
    c = s[-1]
    if c in _SUFFIX_CHARS:
        return 1
    if c == "." and len(s) > 1:
        if s[-2] in _DOT_AFTER or (len(s) > 2 and s[-2] in _UPPER_CHARS and s[-3] in _UPPER_CHARS):
            return 1
        return 0
    if c in _DIGIT_SUFFIX_LAST:
        m = _DIGIT_SUFFIX.search(s, max(0, len(s) - 5))
        return m.end() - m.start() if m else 0
    return 0


def _split_infixes(s: str) -> list[str]:
    if s.isalnum():  # every infix is punctuation or a symbol
        return [s]
    out: list[str] = []
    start = 0
    for m in _INFIX.finditer(s):
        if m.start() == 0 or m.start() == m.end():
            continue
        if m.start() > start:
            out.append(s[start : m.start()])
        out.append(m.group())
        start = m.end()
    if start < len(s):
        out.append(s[start:])
    return out


_MERGE = _build_merges()
_MERGE_FIRST = frozenset(k[0] for k in _MERGE)
