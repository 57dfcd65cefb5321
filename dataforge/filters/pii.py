"""Redact personal information: e-mail addresses, public IP addresses, phone numbers.

Each match is replaced by a fixed placeholder (Dolma's, e.g. ``|||EMAIL_ADDRESS|||``), so
the output is the same on every run and a trained model never sees the real value;
``redacted.<kind>`` counts the replacements. Phone numbers are off by default (their
patterns also match order numbers and dates). Only public IPv4/IPv6 addresses are
redacted: private, loopback, link-local, reserved and documentation ranges stay, as in
datatrove's ``PIIFormatter(only_remove_public_ip=True)``.

Every pattern has bounded repetition and a boundary look-behind, so a 20 MB run of
letters or digits is scanned in linear time.

CJK: e-mail local parts may contain any Unicode letters (``用户@example.com`` is
redacted), but the full-width ``＠`` is not an at-sign here; digits must be ASCII.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

from ..document import Document
from ..stage import Params, Stage

# local part: RFC 5321 allows 64 characters; domain: labels of up to 63, a 2-24 letter TLD
EMAIL = re.compile(
    r"(?<![\w.+%-])[\w.+%-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])"
)
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# North-American and international numbers: +CC, area code, 3 or 4 digits, 4 digits, common separators
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{2,4})[ .-]?\d{3,4}[ .-]?\d{4}(?![\w])")


class PiiParams(Params):
    redact_email: bool = True  # datatrove PIIFormatter: remove_emails=True
    redact_ip: bool = True  # datatrove PIIFormatter: remove_ips=True (public addresses only)
    redact_phone: bool = False  # off by default: too many false positives on web text
    # Dolma's PII placeholders (dolma/taggers/pii.py)
    email_replacement: str = "|||EMAIL_ADDRESS|||"
    ip_replacement: str = "|||IP_ADDRESS|||"
    phone_replacement: str = "|||PHONE_NUMBER|||"


def is_public_ip(candidate: str) -> bool:
    """Is ``candidate`` a valid IP address in a globally routable range?"""
    try:
        return ipaddress.ip_address(candidate).is_global
    except ValueError:
        return False


def _ip_replacer(replacement: str, counter: list[int]) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        if is_public_ip(m.group()):
            counter[0] += 1
            return replacement
        return m.group()

    return sub


def redact(text: str, p: PiiParams) -> tuple[str, dict[str, int]]:
    """``text`` with e-mails, public IPs (and phones, if enabled) replaced; counts by kind."""
    counts: dict[str, int] = {}
    if p.redact_email and "@" in text:
        text, counts["email"] = EMAIL.subn(p.email_replacement, text)
    if p.redact_ip:
        found = [0]
        if "." in text:
            text = IPV4.sub(_ip_replacer(p.ip_replacement, found), text)
        if "::" in text or text.count(":") >= 7:
            text = IPV6.sub(_ip_replacer(p.ip_replacement, found), text)
        counts["ip"] = found[0]
    if p.redact_phone:
        text, counts["phone"] = PHONE.subn(p.phone_replacement, text)
    return text, {k: v for k, v in counts.items() if v}


class Pii(Stage[PiiParams]):
    """Replace e-mail addresses, public IPs and (optionally) phone numbers with placeholders."""

    Params: ClassVar[type[PiiParams]] = PiiParams
    rewrites_text: ClassVar[bool] = True

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            doc.text, counts = redact(doc.text, self.params)
            for kind, n in counts.items():
                self.count(doc, f"redacted.{kind}", n)
            yield doc
