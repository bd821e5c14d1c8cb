"""Inbound webhooks: the spec's ``inbound:`` hooks, served at ``POST /hooks/<name>``.

Another system (a telephony provider, a shop) posts one event per request as a JSON object.
A hook proves who sends it in one of two ways:

- ``Hmac``: the header (``X-Signature`` by default) holds ``sha256=<hex>``, the HMAC-SHA256 of
  the raw body under the secret read from the environment variable the spec names, compared in
  constant time. A missing or wrong signature is a 401 and nothing is read further; when the
  variable is not set the hook answers 503 (and logs why), never a 500. The event runs as the
  user ``run_as`` names (by e-mail; 503 when no active user has it).
- an API key of one of the hook's roles (``X-API-Key`` or ``Authorization: Bearer``, see
  ``api_keys``): the event runs as the key's service user (401 for an unknown, revoked or expired
  key, 403 for a key of another role).

No cookie is read or set here and no CSRF token is asked for: nothing on this path acts as a
signed-in person. The body is capped like every request's (``body_limit``: 413), must be JSON
(``Content-Type: application/json``, else 415; malformed: 400) and an object whose declared
fields validate (422 naming each field; keys the hook does not declare are ignored, as
senders add fields over time). Phone inputs are stored in E.164 like any phone field.

Idempotency: the hook's key (an expression over ``input``, compiled by crmgen) is written to
``crm_inbound_events`` (unique per hook and key) in the transaction that runs the hook's
process, before the process runs. So a failed run leaves nothing (the sender retries), a
replayed event changes nothing and is answered ``200 {"ok": true, "duplicate": true}``, and of
two racing copies the second waits for the first and is then a duplicate (the unique
constraint), never a 500. Each event taken is in the audit log (entity ``InboundEvent``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import audit, auth, validation
from crmgen_runtime.credentials import api_key
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, error_response
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, parse_json
from crmgen_runtime.tables import InboundEventTable, utcnow

log = logging.getLogger(__name__)

ENTITY = "InboundEvent"  # the audit log's entity of events
SCHEME = "sha256="  # the signature's prefix
MAX_KEY = 255  # characters of an idempotency key
JSON_TYPES = frozenset({"application/json"})
# Answers (the ``message`` of the errors): plain English, like the API's.
NOT_JSON = "Send the event as JSON (Content-Type: application/json)."
NO_SIGNATURE = "The event is not signed: send {header}: sha256=<HMAC-SHA256 of the body, hex>."
BAD_SIGNATURE = "The event's signature does not match its body."
NO_SECRET = "This hook is not configured yet (its secret is not set); try again later."
NO_USER = "This hook is not configured yet (the user it runs as is missing); try again later."
NO_KEY = "Send an API key (X-API-Key or Authorization: Bearer)."
BAD_KEY = "The API key is unknown, revoked or expired."
KEY_ROLE = "This API key's role may not send events to this hook."
NO_EVENT_KEY = "The event has no idempotency key ({fields})."


@dataclass(frozen=True)
class Hmac:
    """Events signed with HMAC-SHA256 under the secret in the environment variable
    ``secret_env``, sent in ``header``; they run as the user whose e-mail is ``run_as``."""

    secret_env: str
    run_as: str
    header: str = "X-Signature"


@dataclass(frozen=True)
class KeyAuth:
    """Events sent with an API key whose role is one of ``roles`` (or a superuser's)."""

    roles: tuple[str, ...]


@dataclass(frozen=True)
class Hook:
    """One inbound hook: how it is authenticated, its input, its key and its process
    (``process(run, user=..., input=...)``, run through ``processes.run``)."""

    name: str
    auth: Hmac | KeyAuth
    inputs: Resource
    key: Callable[[Any], Any]  # the idempotency key of an event's ``input``
    process: Callable[..., None]
    key_fields: tuple[str, ...] = ()  # the input fields the key reads (for the 422's message)


class Duplicate(Exception):
    """The event's key was taken already (the unique constraint said so)."""


def signature(secret: bytes, body: bytes) -> str:
    """The signature of ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``secret``."""
    return SCHEME + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signed(secret: bytes, body: bytes, sent: str | None) -> bool:
    """Whether ``sent`` is the signature of ``body`` (compared in constant time)."""
    if not sent:
        return False
    return hmac.compare_digest(sent.strip().lower().encode(), signature(secret, body).encode())


def is_json(content_type: str | None) -> bool:
    """Whether the Content-Type says JSON (parameters such as charset aside)."""
    return (content_type or "").split(";")[0].strip().lower() in JSON_TYPES


def secret_of(hook: Hook, environ: Mapping[str, str] | None = None) -> bytes:
    """The hook's secret from the environment; 503 (and a log line) when it is not set."""
    assert isinstance(hook.auth, Hmac)
    value = (os.environ if environ is None else environ).get(hook.auth.secret_env, "")
    if not value:
        log.error(
            "inbound hook %s: the environment variable %s is not set; its events are refused "
            "(503) until it is",
            hook.name,
            hook.auth.secret_env,
        )
        raise ApiError(503, "not_configured", NO_SECRET)
    return value.encode("utf-8")


def check_signature(hook: Hook, body: bytes, headers: Mapping[str, str]) -> None:
    """401 unless the request's signature header signs ``body`` with the hook's secret."""
    assert isinstance(hook.auth, Hmac)
    secret = secret_of(hook)
    sent = headers.get(hook.auth.header.lower())
    if not sent:
        raise ApiError(401, "not_signed", NO_SIGNATURE.format(header=hook.auth.header))
    if not signed(secret, body, sent):
        log.warning("inbound hook %s: an event with a wrong signature was refused", hook.name)
        raise ApiError(401, "bad_signature", BAD_SIGNATURE)


def payload_of(hook: Hook, body: bytes) -> dict[str, Any]:
    """The event's declared fields, validated (400 for malformed JSON, 422 for bad values)."""
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "The event must be a JSON object.")
    declared = {k: v for k, v in data.items() if k in hook.inputs.fields}
    values = validation.validate(hook.inputs, declared, partial=False)
    for name in hook.inputs.fields:
        values.setdefault(name, None)
    return values


def event_key(hook: Hook, event: Any) -> str:
    """The event's idempotency key as text (422 when it is empty or too long)."""
    value = hook.key(event)
    text = "" if value is None else str(value).strip()
    fields = ", ".join(hook.key_fields) or "the idempotency key"
    if not text:
        problems = dict.fromkeys(hook.key_fields, "Required: the event's idempotency key.")
        raise ApiError(422, "validation_error", NO_EVENT_KEY.format(fields=fields), problems)
    if len(text) > MAX_KEY:
        message = f"The event's idempotency key is over {MAX_KEY} characters."
        raise ApiError(422, "validation_error", message, dict.fromkeys(hook.key_fields, message))
    return text


def claim(session: Session, catalog: Catalog, hook: str, key: str, user: CurrentUser) -> int:
    """Write the event's row (its id); ``Duplicate`` when the key was taken (now or by a
    transaction that committed while this one waited)."""
    table = catalog.table(InboundEventTable).__table__  # type: ignore[attr-defined]
    statement = (
        sa.insert(table)
        .values(hook=hook, key=key, received_at=utcnow(), user_email=user.email, result="ok")
        .returning(table.c.id)
    )
    try:
        return int(session.execute(statement).scalar_one())
    except sa.exc.IntegrityError:
        raise Duplicate(key) from None


class Inbound:
    """The hooks of one app and the process machinery that runs them (``processes.Processes``:
    anything with ``catalog`` and ``run(session, user, process, **names)``)."""

    def __init__(self, processes: Any, hooks: Iterable[Hook]) -> None:
        self.processes = processes
        self.catalog: Catalog = processes.catalog
        self.hooks: dict[str, Hook] = {hook.name: hook for hook in hooks}

    # -- who sends it ---------------------------------------------------------------------
    def run_as(self, database: Database, hook: Hook) -> CurrentUser:
        """The user of a signed hook: the active user of its ``run_as`` e-mail (else 503)."""
        assert isinstance(hook.auth, Hmac)
        email = auth.normalize_email(hook.auth.run_as)
        with database.sessions() as session:
            found = auth.find_user(self.catalog, session, email)
            user = None if found is None else auth.user_on_id(session, self.catalog, found.id)
        if user is None:
            log.error(
                "inbound hook %s: no active user %s to run its events as; they are refused (503)",
                hook.name,
                hook.auth.run_as,
            )
            raise ApiError(503, "not_configured", NO_USER)
        return user

    def key_user(self, database: Database, hook: Hook, key: str | None) -> CurrentUser:
        """The service user of the request's API key (401 without a live key, 403 for a key
        whose role may not send to ``hook``)."""
        from crmgen_runtime.api_keys import KeyLookup

        assert isinstance(hook.auth, KeyAuth)
        if not key:
            raise ApiError(401, "not_authenticated", NO_KEY)
        lookup = KeyLookup(self.catalog, database, key)
        user = lookup()
        if user is None:
            raise ApiError(401, "not_authenticated", BAD_KEY)
        lookup.touch()
        if not (self.catalog.is_superuser(user) or user.has_role(*hook.auth.roles)):
            raise ApiError(403, "forbidden", KEY_ROLE)
        return user

    # -- one event ------------------------------------------------------------------------
    def take(
        self,
        database: Database,
        name: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        key: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Check, validate and run one event of hook ``name`` (blocking): the answer's body.
        ``headers`` are the request's (lower-case names); ``key`` its API key, if any."""
        hook = self.hooks.get(name)
        if hook is None:
            raise ApiError(404, "not_found", f"There is no inbound hook {name!r}.")
        if not is_json(headers.get("content-type")):
            raise ApiError(415, "unsupported_media_type", NOT_JSON)
        if isinstance(hook.auth, Hmac):
            check_signature(hook, body, headers)
        else:
            user = self.key_user(database, hook, key)
        values = payload_of(hook, body)
        if isinstance(hook.auth, Hmac):
            user = self.run_as(database, hook)
        from crmgen_runtime.processes import Input

        taken = ""
        try:
            with database.session() as session:
                event = Input(session, hook.inputs, values, None)
                taken = event_key(hook, event)
                # the first statement: on SQLite the transaction is a writer from the start, so a
                # racing copy waits for this one and then meets its row
                event_id = claim(session, self.catalog, name, taken, user)
                self.processes.run(session, user, hook.process, input=event)
                changes: dict[str, list[Any]] = {"hook": [None, name], "key": [None, taken]}
                audit.record(
                    session,
                    self.catalog,
                    user=user,
                    ip=ip,
                    entity=ENTITY,
                    record_id=event_id,
                    action="create",
                    changes=changes,
                )
        except Duplicate:
            log.info("inbound hook %s: event %r was taken already", name, taken)
            return {"ok": True, "duplicate": True}
        except sa.exc.IntegrityError:
            raise ApiError(
                409, "conflict", "The event conflicts with a record that exists already."
            ) from None
        log.info("inbound hook %s: event %r taken (#%s)", name, taken, event_id)
        return {"ok": True, "duplicate": False, "event": event_id}

    # -- HTTP -----------------------------------------------------------------------------
    async def endpoint(self, request: Request) -> Response:
        """``POST /hooks/{name}``: errors answer JSON (never a page, never a cookie)."""
        try:
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            key = api_key(request.scope)
            ip = request.client.host if request.client else None
            answer = await run_in_threadpool(
                self.take,
                request.app.state.db,
                request.path_params["name"],
                body,
                headers,
                key=key,
                ip=ip,
            )
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    def routes(self) -> list[BaseRoute]:
        """``POST /hooks/{name}`` (the app mounts it beside ``/api``, not below)."""
        return [Route("/hooks/{name}", self.endpoint, methods=["POST"], name="inbound_hook")]
