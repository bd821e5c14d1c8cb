"""The pure parts of e-mail from records (``crmgen_runtime.mail``, ``crmgen_runtime.inbox``):
addresses, texts by locale, IMAP URLs, and what an incoming message gives the log. The log,
sending and reading a real mailbox are tested over HTTP in ``tests/mail``."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from crmgen_runtime.inbox import MailboxError, imap_target, message_key, text_of
from crmgen_runtime.mail import addresses, pick


def test_addresses_are_read_from_texts_and_lists() -> None:
    assert addresses("Anna <anna@client.example>, bob@client.example") == [
        "anna@client.example",
        "bob@client.example",
    ]
    assert addresses(["a@b.example", "", None, "not an address"]) == ["a@b.example"]
    assert addresses("a@b.example; c@d.example") == ["a@b.example", "c@d.example"]


def test_a_text_falls_back_to_the_default_locale_then_any() -> None:
    text = {"en": "Hello", "ru": "Привет"}
    assert pick(text, "ru", "en") == "Привет"
    assert pick(text, "zh", "en") == "Hello"
    assert pick({"id": "Halo"}, "zh", "en") == "Halo"
    assert pick({"*": "Hi"}, None, "en") == "Hi"


def test_imap_urls() -> None:
    assert imap_target("imaps://crm%40acme.example:p%40ss@mail.acme.example/Sales") == (
        "ssl",
        "mail.acme.example",
        993,
        "crm@acme.example",
        "p@ss",
        "Sales",
    )
    assert imap_target("imap+starttls://u:p@h")[:3] == ("starttls", "h", 143)
    assert imap_target("imap://u:p@127.0.0.1:1143")[2] == 1143
    assert imap_target("imap://u:p@h")[5] == "INBOX"
    for bad in ("http://u:p@h", "imap://h", "imaps:///INBOX"):
        with pytest.raises(MailboxError):
            imap_target(bad)


def _message(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_text_of_a_message_and_its_key() -> None:
    plain = _message(b"Message-ID: <a@b>\r\nSubject: x\r\n\r\nHello there\r\n")
    assert text_of(plain) == "Hello there" and message_key(plain, b"raw") == "<a@b>"
    html = _message(b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>you</b></p>\r\n")
    assert " ".join(text_of(html).split()) == "Hello you"
    assert message_key(html, b"raw").startswith("sha256:")  # no Message-ID: the digest
