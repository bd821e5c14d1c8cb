"""Encrypted fields (``crmgen_runtime.crypto``): tokens, keys from the environment, blind
indexes, the column types, rotation and the migration steps, on SQLite."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import crypto
from crmgen_runtime.settings import AppSettings, ConfigurationError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

KEY = crypto.new_key()


def keys(*ids: str) -> crypto.Keyring:
    return crypto.keyring_from(
        {
            crypto.KEYS_VARIABLE: ",".join(f"{i}:{crypto.new_key()}" for i in ids),
            crypto.BLIND_VARIABLE: crypto.new_key(),
        }
    )


@pytest.fixture
def installed() -> Iterator[crypto.Keyring]:
    ring = keys("k1")
    crypto.install(ring)
    yield ring
    crypto.install(None)


def test_a_token_names_its_format_and_key_and_decrypts_in_its_context_only() -> None:
    ring = keys("k1")
    token = ring.encrypt("Ünïcode 4711", "Contact.passport")
    version, kid, body = crypto.split(token)
    assert (version, kid) == ("enc1", "k1") and "4711" not in token
    assert len(base64.urlsafe_b64decode(body + "==")) == 12 + len("Ünïcode 4711".encode()) + 16
    assert ring.decrypt(token, "Contact.passport") == "Ünïcode 4711"
    assert ring.encrypt("same", "A.b") != ring.encrypt("same", "A.b")  # a fresh nonce each time
    with pytest.raises(crypto.DecryptionError, match="does not decrypt with the key 'k1'"):
        ring.decrypt(token, "Contact.note")  # moved to another column
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(crypto.DecryptionError):
        ring.decrypt(tampered, "Contact.passport")
    with pytest.raises(crypto.DecryptionError, match="key 'k9', which ENCRYPTION_KEYS"):
        ring.decrypt("enc1:k9:AAAA", "A.b")
    with pytest.raises(crypto.DecryptionError, match="unknown format"):
        ring.decrypt("plain text", "A.b")
    assert crypto.DecryptionError("x").status == 503
    assert "k1" in repr(ring) and crypto.new_key() not in repr(ring)


def test_the_first_key_encrypts_and_older_ones_still_decrypt() -> None:
    old = keys("k1")
    token = old.encrypt("v", "A.b")
    both = crypto.Keyring({"k2": crypto.new_key_bytes(), **old.keys}, old.blind_key)
    assert both.active_id == "k2" and both.decrypt(token, "A.b") == "v"
    assert crypto.key_id(both.encrypt("v", "A.b")) == "k2" and crypto.key_id(None) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "ENCRYPTION_KEYS is not set"),
        ({"ENCRYPTION_KEYS": "k1:" + crypto.new_key()}, "BLIND_INDEX_KEY is not set"),
        ({"ENCRYPTION_KEYS": "nokeyid", "BLIND_INDEX_KEY": crypto.new_key()}, "<id>:<base64"),
        ({"ENCRYPTION_KEYS": "k1:c2hvcnQ=", "BLIND_INDEX_KEY": crypto.new_key()}, "32 random"),
        ({"ENCRYPTION_KEYS": "k1:!!!", "BLIND_INDEX_KEY": crypto.new_key()}, "32 random"),
        ({"ENCRYPTION_KEYS": "k 1:x", "BLIND_INDEX_KEY": crypto.new_key()}, "<id>:<base64"),
        ({"ENCRYPTION_KEYS": f"k1:{KEY},k1:{KEY}", "BLIND_INDEX_KEY": "z"}, "twice"),
        ({"ENCRYPTION_KEYS": "k1:" + crypto.new_key(), "BLIND_INDEX_KEY": "short"}, "BLIND"),
    ],
)
def test_bad_keys_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(crypto.EncryptionKeyError, match=message):
        crypto.keyring_from(env)


def test_keys_in_either_base64_alphabet_and_the_blind_key_differs() -> None:
    raw = bytes(range(250, 256)) + bytes(26)
    standard, urlsafe = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    assert standard != urlsafe
    for text in (standard, urlsafe, urlsafe.rstrip("=")):
        env = {"ENCRYPTION_KEYS": f"a:{text}", "BLIND_INDEX_KEY": crypto.new_key()}
        assert crypto.keyring_from(env).keys["a"] == raw
    with pytest.raises(crypto.EncryptionKeyError, match="must differ"):
        crypto.keyring_from({"ENCRYPTION_KEYS": f"a:{standard}", "BLIND_INDEX_KEY": standard})


def test_the_blind_index_is_keyed_normalised_and_bound() -> None:
    ring = keys("k1")
    value = ring.blind("AB 123", "Contact.passport")
    assert len(value) == crypto.BLIND_LENGTH and "123" not in value
    assert ring.blind("  ab 123 ", "Contact.passport") == value
    assert ring.blind("AB 123", "Lead.passport") != value
    assert keys("k1").blind("AB 123", "Contact.passport") != value  # another blind key
    assert crypto.blind_column("passport") == "passport__bidx"


def test_settings_install_the_keys_or_refuse_to_start(tmp_path: Path) -> None:
    app = AppSettings("demo", f"sqlite:///{tmp_path / 'db.sqlite3'}", encryption=True)
    env = {"APP_ENV": "development", **crypto.new_environ("k7")}
    try:
        app.check(app.load(env))
        assert crypto.keyring().active_id == "k7"
        with pytest.raises(ConfigurationError, match="demo: refusing to start: BLIND_INDEX_KEY"):
            app.startup({"APP_ENV": "development", "ENCRYPTION_KEYS": env["ENCRYPTION_KEYS"]})
    finally:
        crypto.install(None)
    plain = AppSettings("demo", "sqlite://")
    assert plain.check(plain.load({"APP_ENV": "development"})).development  # no keys needed
    assert "ENCRYPTION" not in repr(app.load(env)) and env["BLIND_INDEX_KEY"] not in repr(
        app.load(env)
    )


def test_keys_come_from_the_environment_when_none_are_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crypto.install(None)
    for name, value in crypto.new_environ("env1").items():
        monkeypatch.setenv(name, value)
    try:
        assert crypto.keyring().active_id == "env1"
    finally:
        crypto.install(None)


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    passport: Mapped[str | None] = mapped_column(crypto.EncryptedText("Person.passport"))
    passport__bidx: Mapped[str | None] = mapped_column(sa.String(64))
    data: Mapped[Any] = mapped_column(crypto.EncryptedJSON("Person.data"), nullable=True)


crypto.keep_blind_indexes(Person, [("passport", "passport__bidx", "Person.passport")])


@pytest.fixture
def engine(tmp_path: Path, installed: crypto.Keyring) -> Iterator[sa.Engine]:
    made = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    Base.metadata.create_all(made)
    yield made
    made.dispose()


def raw(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT passport, passport__bidx, data FROM people"))
        return [tuple(row) for row in rows]


def test_columns_encrypt_on_write_and_keep_their_blind_index(
    engine: sa.Engine, installed: crypto.Keyring
) -> None:
    with Session(engine) as session:
        session.add_all(
            [Person(id=1, passport="P-1", data={"b": [1, "ü"]}), Person(id=2, passport=None)]
        )
        session.commit()
        assert repr(Person.__table__.c.passport.type) == "EncryptedText('Person.passport')"
        assert "EncryptedJSON" in repr(Person.__table__.c.data.type)
    (token, blind, data), empty = raw(engine)
    assert crypto.is_token(token) and crypto.is_token(data) and "P-1" not in token
    assert blind == installed.blind("p-1", "Person.passport") and empty == (None, None, None)
    with Session(engine) as session:
        person = session.get(Person, 1)
        assert person is not None and (person.passport, person.data) == ("P-1", {"b": [1, "ü"]})
        person.passport = "P-2"
        session.commit()
    assert raw(engine)[0][1] == installed.blind("P-2", "Person.passport")


def test_rotation_moves_every_value_in_batches_and_spares_newer_ones(
    engine: sa.Engine, installed: crypto.Keyring
) -> None:
    with Session(engine) as session:
        session.add_all(Person(id=i, passport=f"P-{i}") for i in range(1, 6))
        session.commit()
    rotated = crypto.Keyring({"k2": crypto.new_key_bytes(), **installed.keys}, installed.blind_key)
    column = crypto.Column("people", "passport", "Person.passport", "passport__bidx")
    seen: list[tuple[int, int, int]] = []
    done = crypto.rotate_column(
        engine, column, keys=rotated, batch=2, progress=lambda *a: seen.append(a)
    )
    assert done == (5, 5) and seen == [(2, 5, 2), (4, 5, 4), (5, 5, 5)]
    assert {crypto.key_id(row[0]) for row in raw(engine)} == {"k2"}
    assert crypto.rotate_column(engine, column, keys=rotated) == (5, 0)
    empty = crypto.Column("people", "data", "Person.data")
    crypto.rotate_column(engine, empty, keys=rotated, progress=lambda *a: seen.append(a))
    assert seen[-1] == (0, 0, 0)
    assert crypto.rotate_column(engine, column, keys=rotated, everything=True) == (5, 5)
    crypto.install(rotated)
    with Session(engine) as session:
        assert session.get(Person, 3).passport == "P-3"  # type: ignore[union-attr]


def test_migration_steps_encrypt_and_decrypt_a_column(
    engine: sa.Engine, installed: crypto.Keyring
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO people (id, passport, data) VALUES (1, 'P-1', '[1]'), (2, NULL, NULL)"
            )
        )
        assert (
            crypto.encrypt_column(
                connection, "people", "passport", "Person.passport", "passport__bidx"
            )
            == 1
        )
        assert crypto.encrypt_column(connection, "people", "data", "Person.data") == 1
        again = crypto.encrypt_column(connection, "people", "passport", "Person.passport")
        assert again == 0  # tokens are left as they are
    with Session(engine) as session:
        person = session.get(Person, 1)
        assert person is not None and (person.passport, person.data) == ("P-1", [1])
    assert raw(engine)[0][1] == installed.blind("P-1", "Person.passport")
    with engine.begin() as connection:
        assert crypto.decrypt_column(connection, "people", "passport", "Person.passport") == 1
    assert raw(engine)[0][0] == "P-1"


def test_sealed_working_copies(installed: crypto.Keyring) -> None:
    token = crypto.seal("cells", "crm_import_uploads.table_json")
    assert (
        crypto.is_token(token) and crypto.unseal(token, "crm_import_uploads.table_json") == "cells"
    )
    assert crypto.unseal("[1]", "x.y") == "[1]"  # written before the app had keys
    crypto.install(None)
    assert crypto.seal("cells", "x.y") == "cells"  # an app without encrypted fields


def test_local_development_keeps_its_keys_in_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = AppSettings("demo", "sqlite://", encryption=True)
    try:
        app.check(app.load({"APP_ENV": "development"}))
        first = crypto.keyring()
        kept = tmp_path / crypto.DEVELOPMENT_KEYS_FILE
        assert kept.stat().st_mode & 0o777 == 0o600 and first.active_id == "dev1"
        app.check(app.load({"APP_ENV": "development"}))
        assert crypto.keyring().keys == first.keys  # the same keys after a restart
        with pytest.raises(ConfigurationError, match="ENCRYPTION_KEYS is not set"):
            app.check(
                app.load(
                    {
                        "SECRET_KEY": "x" * 10 + "abcdefghijklmnopqrstuvwxyz",
                        "PUBLIC_URL": "https://a.example",
                    }
                )
            )
    finally:
        crypto.install(None)


def test_the_command_line_says_a_key_problem_in_one_line() -> None:
    import click
    from click.testing import CliRunner
    from crmgen_runtime.commands import KeyedGroup

    group = KeyedGroup()

    @group.command()
    def migrate() -> None:
        crypto.keyring_from({})

    @group.command()
    def seed() -> None:
        keys("k1").decrypt("enc1:k9:AAAA", "Contact.passport")

    for name, message in (("migrate", "ENCRYPTION_KEYS is not set"), ("seed", "key 'k9'")):
        done = CliRunner().invoke(group, [name])
        assert done.exit_code == 1 and message in done.output, done.output
        assert isinstance(done.exception, SystemExit)  # no traceback
    assert isinstance(group, click.Group)


# --- what the runtime does with encrypted fields: filters, sorting, the audit log, payloads ----


def person_resource() -> Any:
    from crmgen_runtime.resources import Catalog, FieldInfo, Resource, field_map

    resource = Resource(
        name="Person",
        path="people",
        label="Person",
        model=Person,
        fields=field_map(
            FieldInfo("passport", "string", encrypted="Person.passport", blind="passport__bidx"),
            FieldInfo("data", "json", encrypted="Person.data"),
        ),
    )
    Catalog([resource])
    return resource


def test_lists_filter_an_encrypted_field_by_its_blind_index_only(
    engine: sa.Engine, installed: crypto.Keyring
) -> None:
    from crmgen_runtime import queries
    from crmgen_runtime.errors import ApiError

    resource = person_resource()
    names = frozenset({"id", "passport", "data"})
    with Session(engine) as session:
        session.add_all([Person(id=1, passport="P-1"), Person(id=2, passport="P-2")])
        session.commit()

        def ids(key: str, raw: str) -> list[int]:
            condition = queries.filter_condition(resource, names, key, raw)
            return list(session.scalars(sa.select(Person.id).where(condition).order_by(Person.id)))

        assert ids("passport", " p-1") == [1]
        assert ids("passport__in", "P-2,P-1,x") == [1, 2]
        assert ids("passport__isnull", "false") == [1, 2]
    for key, raw in (("passport__contains", "P"), ("passport__gt", "A"), ("data", "1")):
        with pytest.raises(ApiError, match="encrypted") as caught:
            queries.filter_condition(resource, names, key, raw)
        assert caught.value.status == 400
    with pytest.raises(ApiError, match="stored encrypted"):
        queries.parse_sort(resource, names, "-passport")


def test_the_audit_log_and_payloads_leave_encrypted_values_out(
    engine: sa.Engine, installed: crypto.Keyring
) -> None:
    from crmgen_runtime import audit, processes

    resource = person_resource()
    changes = {"passport": ["P-1", "P-2"], "data": [None, {"a": 1}], "id": [1, 1]}
    masked = audit.masked(resource.catalog, "Person", changes)
    assert masked == {"passport": [crypto.MASK] * 2, "data": [None, crypto.MASK], "id": [1, 1]}
    assert audit.masked(resource.catalog, "Other", changes) is changes
    with Session(engine) as session:
        session.add(Person(id=1, passport="P-1", data={"a": 1}))
        session.commit()
        person = session.get(Person, 1)
        assert processes.plain(person, resource.catalog) == {"id": 1}


def test_a_saved_view_keeps_no_value_of_an_encrypted_field() -> None:
    from crmgen_runtime import views
    from crmgen_runtime.errors import ApiError
    from crmgen_runtime.principal import CurrentUser

    resource = person_resource()
    user = CurrentUser(1, "a@example.com", "A", frozenset(), superuser=True)
    with pytest.raises(ApiError, match="a view does not keep its values") as caught:
        views.check(resource, user, {"name": "v", "filters": {"passport": "P-1"}})
    assert caught.value.status == 422
