"""PII redaction: e-mails, public IPs (not private ones), phones when asked; counted."""

from __future__ import annotations

from dataforge.filters.pii import PiiParams, is_public_ip, redact
from tests.filters.util import run


def test_emails_and_public_ips_are_replaced_and_counted(make_stage) -> None:  # type: ignore[no-untyped-def]
    stage = make_stage("pii")
    text = ("Write to jane.doe+news@mail.example.co.uk or 用户@example.com. Server 8.8.8.8 and "
            "2001:4860:4860::8888 are public; 192.168.1.20, 10.0.0.1 and 127.0.0.1 are not.")
    (out,) = run(stage, text)
    assert out.text == (
        "Write to |||EMAIL_ADDRESS||| or |||EMAIL_ADDRESS|||. Server |||IP_ADDRESS||| and "
        "|||IP_ADDRESS||| are public; 192.168.1.20, 10.0.0.1 and 127.0.0.1 are not."
    )
    stats = stage.ctx.stats
    assert stats.get("0:pii", "redacted.email") == 2
    assert stats.get("0:pii", "redacted.ip") == 2


def test_not_pii() -> None:
    text = "Version 1.2.3.4.5, time 10:30:00, ratio 3.14, user@localhost, an @handle, 999.1.1.1."
    assert redact(text, PiiParams(redact_phone=True)) == (text, {})


def test_phone_numbers_only_when_enabled() -> None:
    text = "Call (555) 123-4567 or +44 20 7946 0958 today."
    assert redact(text, PiiParams()) == (text, {})
    new, counts = redact(text, PiiParams(redact_phone=True, phone_replacement="<PHONE>"))
    assert new == "Call <PHONE> or <PHONE> today." and counts == {"phone": 2}


def test_switches_and_placeholders() -> None:
    text = "mail a@b.example from 1.1.1.1"
    assert redact(text, PiiParams(redact_email=False, ip_replacement="<IP>")) == ("mail a@b.example from <IP>", {"ip": 1})
    assert is_public_ip("1.1.1.1") and not is_public_ip("192.0.2.1") and not is_public_ip("300.1.1.1")
