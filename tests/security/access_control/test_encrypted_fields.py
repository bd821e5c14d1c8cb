"""Encrypted fields of the reference CRM (``Contact.passport_number`` with a blind index,
``Contact.private_note``) behind a real uvicorn, on SQLite and PostgreSQL.

The API gives the plaintext back, while a scan of every column of every table of the database
(records, audit log, outbox, notifications, comments, saved views, imports, search tables and
indexes) finds none of it; the blind index finds a contact by its passport number, and nothing
else can compare, sort or search the encrypted fields; a role that may not read them does not
get them in exports; a server with a wrong key answers a clear 503, one without keys does not
start; ``rotate-keys`` moves every value to a new key in batches, with progress.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from crmgen_runtime import crypto

from tests.security.access_control.test_users_admin import browser
from tests.security.crm import PACKAGE, Crm, app_cli, crm_out, start_crm

PASSPORT = "PX-4711-Zebra"
NOTE = "whisper Okapi 9931"
NEW_NOTE = "second Quokka 5520"
IMPORTED = "ZZ-Wombat-0042"  # a passport number in an uploaded file, kept until imported
SECRETS = ("4711-Zebra", "Okapi", "Quokka", "Wombat")  # never stored in the clear


def admin(crm: Crm) -> httpx.Client:
    return crm.client(crm.token("admin"))


@pytest.fixture(scope="module")
def contact(crm: Crm) -> int:
    """A contact with both encrypted fields set, changed once (the audit log's diffs), with a
    comment, a saved view and a search of it: every path a value could be copied along."""
    with admin(crm) as client:
        made = client.post(
            "/api/contacts",
            json={"full_name": "Ann Vault", "passport_number": PASSPORT, "private_note": NOTE},
        )
        assert made.status_code == 201, made.text
        ident = int(made.json()["id"])
        changed = client.patch(f"/api/contacts/{ident}", json={"private_note": NEW_NOTE})
        assert changed.status_code == 200, changed.text
        said = client.post(f"/api/contacts/{ident}/comments", json={"body": "checked the file"})
        assert said.status_code == 201, said.text
        assert client.get("/api/contacts", params={"q": "Vault"}).status_code == 200
    with browser(crm, "admin") as page:  # a file uploaded to the import, not imported yet
        form = page.get("/contacts/import")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text
        sent = page.post(
            "/contacts/import",
            data={"csrf_token": token[1]},
            files={"file": ("people.csv", f"Full name,Passport number\nIm Port,{IMPORTED}\n")},
        )
        assert sent.status_code in (200, 303), sent.text
    return ident


def test_the_api_reads_the_plaintext(crm: Crm, contact: int) -> None:
    with admin(crm) as client:
        body = client.get(f"/api/contacts/{contact}").json()
    assert (body["passport_number"], body["private_note"]) == (PASSPORT, NEW_NOTE)


def every_value(crm: Crm) -> list[tuple[str, str, str]]:
    """(table, column, text) of every non-empty value in the database, every table included
    (SQLite's full-text tables too)."""
    engine = crm.engine()
    found: list[tuple[str, str, str]] = []
    try:
        with engine.connect() as connection:
            if crm.kind == "sqlite":
                names = connection.execute(
                    sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")
                ).scalars()
            else:
                names = connection.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = current_schema()"
                    )
                ).scalars()
            for name in list(names):
                quoted = '"' + name.replace('"', '""') + '"'
                result = connection.execute(sa.text(f"SELECT * FROM {quoted}"))
                columns = list(result.keys())
                for row in result:
                    for column, value in zip(columns, row, strict=True):
                        if value is not None:
                            found.append((name, column, str(value)))
    finally:
        engine.dispose()
    return found


def test_no_table_holds_the_plaintext(crm: Crm, contact: int) -> None:
    values = every_value(crm)
    tables = {table for table, _, _ in values}
    assert {"contacts", "crm_audit_log", "crm_comments", "crm_import_uploads"} <= tables
    # the scan sees what is stored in the clear: the contact's name, in its row and the log
    named = {table for table, _, text in values if "Ann Vault" in text}
    assert {"contacts", "crm_audit_log"} <= named
    leaks = [
        (table, column)
        for table, column, text in values
        for secret in SECRETS
        if secret.casefold() in text.casefold()
    ]
    assert leaks == []
    log = crm.log()  # the server's log lines: requests, errors
    assert "/api/contacts" in log and not any(secret in log for secret in SECRETS)
    # what is stored: tokens under the active key, and the blind index
    with admin(crm) as client:
        audit = client.get("/api/audit", params={"entity": "Contact", "record_id": contact})
    changes = [entry["changes"] for entry in audit.json()["items"]]
    assert {"private_note": [crypto.MASK, crypto.MASK]} in changes
    (token,) = crm.sql("SELECT private_note FROM contacts WHERE id = :i", i=contact)[0]
    assert token.startswith("enc1:k1:") and crypto.is_token(token)
    uploaded = crm.sql("SELECT table_json FROM crm_import_uploads")
    assert uploaded and all(crypto.is_token(row[0]) for row in uploaded)


def test_the_blind_index_finds_equal_values_only(crm: Crm, contact: int) -> None:
    with admin(crm) as client:

        def ids(**params: str) -> list[int]:
            response = client.get("/api/contacts", params=params)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        assert ids(passport_number=PASSPORT) == [contact]
        assert ids(passport_number=f"  {PASSPORT.lower()} ") == [contact]  # trimmed, any case
        assert ids(passport_number__in=f"nope,{PASSPORT}") == [contact]
        assert ids(passport_number="PX-4711") == []
        assert contact in ids(passport_number__isnull="false")
        for params in (
            {"passport_number__contains": "4711"},
            {"passport_number__gt": "A"},
            {"private_note": NEW_NOTE},  # no blind index
            {"sort": "passport_number"},
            {"sort": "-private_note"},
        ):
            response = client.get("/api/contacts", params=params)
            assert response.status_code == 400, (params, response.text)
            assert "encrypted" in response.json()["error"]["message"]
        assert ids(q="4711") == []  # not searched as text
        view = client.post(
            "/api/views",
            json={"entity": "contacts", "name": "p", "filters": {"passport_number": PASSPORT}},
        )
        assert view.status_code == 422 and "encrypted" in view.text
    # the app logs paths without their query (uvicorn itself, run bare here, logs the query)
    app_lines = [line for line in crm.log().splitlines() if not line.startswith("INFO:")]
    assert not any(secret in line for line in app_lines for secret in SECRETS)


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_exports_carry_them_only_for_roles_that_read_them(crm: Crm, contact: int) -> None:
    with browser(crm, "admin") as client:
        rows = read_csv(client.get(f"/contacts/export.csv?id={contact}").content)
    assert "Passport number" in rows[0] and PASSPORT in rows[1] and NEW_NOTE in rows[1]
    with browser(crm, "support") as client:
        export = client.get(f"/contacts/export.csv?id={contact}")
        xlsx = client.get(f"/contacts/export.xlsx?id={contact}")
        api = client.get(f"/api/contacts/{contact}")
    assert export.status_code == xlsx.status_code == 200
    rows = read_csv(export.content)
    assert "Passport number" not in rows[0] and "Private note" not in rows[0]
    assert not any(secret.encode() in export.content for secret in SECRETS)
    assert api.status_code == 200 and "passport_number" not in api.json()


def test_a_wrong_key_is_a_clear_503_and_no_key_stops_the_start(
    crm: Crm, contact: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wrong = {crypto.KEYS_VARIABLE: f"k1:{crypto.new_key()}"}
    running = start_crm(crm.kind, tmp_path_factory, wrong, database_url=crm.database_url)
    with running as other, other.client(other.token("admin")) as client:
        response = client.get(f"/api/contacts/{contact}")
        listed = client.get("/api/contacts", params={"passport_number": PASSPORT})
        with browser(other, "admin") as page:
            shown = page.get(f"/contacts/{contact}", headers={"Accept": "text/html"})
    assert shown.status_code == 503 and "current keys cannot read" in shown.text
    for answer in (response, listed):
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "encryption_key"
        assert "does not decrypt with the key 'k1'" in error["message"]
    env = {k: v for k, v in crm.env.items() if k != crypto.KEYS_VARIABLE}
    code = f"from {PACKAGE}.app import create_app; create_app()"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "refusing to start: ENCRYPTION_KEYS is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_rotate_keys_re_encrypts_in_batches(
    crm: Crm, contact: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    old = crm.env[crypto.KEYS_VARIABLE]
    rotated = f"k2:{crypto.new_key()},{old}"
    folder = tmp_path_factory.mktemp("rotate")
    out = crm_out(tmp_path_factory)
    said = app_cli(
        out, crm.database_url, folder, "rotate-keys", "--batch", "10", ENCRYPTION_KEYS=rotated
    )
    counts = re.findall(
        r"Contact\.passport_number: (\d+)/(\d+) rows read, (\d+) re-encrypted", said
    )
    assert len(counts) > 1 and len(set(counts[-1])) == 1  # one line a batch; all of them moved
    tokens = crm.sql("SELECT passport_number, private_note FROM contacts WHERE id = :i", i=contact)
    assert all(crypto.key_id(token) == "k2" for token in tokens[0])
    again = app_cli(out, crm.database_url, folder, "rotate-keys", ENCRYPTION_KEYS=rotated)
    assert "0 re-encrypted" in again
    only_new = {crypto.KEYS_VARIABLE: rotated.split(",")[0]}
    running = start_crm(crm.kind, tmp_path_factory, only_new, database_url=crm.database_url)
    with running as new, new.client(new.token("admin")) as client:
        body: dict[str, Any] = client.get(f"/api/contacts/{contact}").json()
        found = client.get("/api/contacts", params={"passport_number": PASSPORT}).json()
    assert (body["passport_number"], body["private_note"]) == (PASSPORT, NEW_NOTE)
    assert [item["id"] for item in found["items"]] == [contact]
