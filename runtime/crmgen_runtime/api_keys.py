"""API keys: credentials for integrations, each acting as its own service user.

A user manager (a superuser, or a role with ``manage_users``) creates a key with
``POST /api/api_keys`` {name, role, expires_at}; the answer holds the key (``crm_`` and 43
random URL-safe characters) once, and only its SHA-256 is stored (``crm_api_keys``). Only a
superuser gives a key a superuser role. ``GET /api/api_keys`` lists the keys (never the keys
themselves: their first characters), ``DELETE /api/api_keys/{id}`` revokes one. Creating and
revoking are written to the audit log (entity ``ApiKey``), as the one who did it.

A key acts as its own service user: creating it adds a user (``key-<id>@api-keys.invalid``,
named as the key, inactive, no password: it never signs in, and pickers of active users leave it
out) holding the key's role. What the key creates is owned by that user, the audit log and the
processes' ``user`` name it, and ``own`` rules apply to it as to anyone.

A request sends the key as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``
(``credentials.AuthMiddleware``): it is looked up in one query over the unique ``key_hash`` index
(with the service user and its roles), only on ``/api`` paths (and, of ``/api/auth``, only
``/api/auth/me``), never through the session cookie, so no CSRF token is needed and no cookie is
ever set. A revoked or expired key is no credential: the endpoints answer 401. When a key was
used, its ``last_used_at`` moves, at most once a minute (``touch``, after the response).
Keys are not managed with a key: the key routes want a signed-in user (403 for a key).
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import audit, auth, auth_routes
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.resources import Catalog
from crmgen_runtime.responses import JSONResponse, parse_json
from crmgen_runtime.tables import ApiKeyTable, utcnow

PREFIX = "crm_"  # every key starts so: a bearer token starting so is looked up as a key
KEY_BYTES = 32
SHOWN = 12  # characters of a key kept to tell keys apart (``prefix``)
MAX_NAME = 100
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at moves at most this often
ENTITY = "ApiKey"  # the audit log's entity of keys
SERVICE_DOMAIN = "api-keys.invalid"  # the service users' e-mail domain (never delivered)
KEYS = frozenset({"name", "role", "expires_at"})
MAX_ID = 2**31 - 1
STATE = "api_key"  # request.state: the request sent an API key
MAY_NOT = "Your role may not manage API keys: that needs user management (manage_users)."
NOT_WITH_A_KEY = "API keys are managed by a signed-in user, not with an API key."
SUPERUSER_ONLY = "Only a superuser may give an API key a superuser role."


def generate() -> str:
    """A new random key: ``crm_`` and 43 URL-safe characters (256 bits)."""
    return PREFIX + secrets.token_urlsafe(KEY_BYTES)


def service_email(key_id: int) -> str:
    """The e-mail of the service user of key ``key_id``."""
    return f"key-{key_id}@{SERVICE_DOMAIN}"


def is_service_email(email: str) -> bool:
    """Whether ``email`` is an API key's service user's."""
    return email.endswith("@" + SERVICE_DOMAIN)


# --- the lookup of a request's key -----------------------------------------------------------


@functools.cache
def _lookup(catalog: Catalog) -> sa.Select[Any]:
    """One row per role of the service user of a live key (over the unique ``key_hash``),
    then the key's id and last use."""
    user, role = auth.user_model(catalog), auth.role_model(catalog)
    keys = catalog.table(ApiKeyTable)
    now = sa.bindparam("now", type_=sa.DateTime(timezone=True))
    return (
        sa.select(*auth.user_columns(catalog), keys.id, keys.last_used_at)
        .select_from(keys)
        .join(user, user.id == keys.user_id)
        .outerjoin(role, role.user_id == user.id)
        .where(
            keys.key_hash == sa.bindparam("key_hash"),
            keys.revoked_at.is_(None),
            sa.or_(keys.expires_at.is_(None), keys.expires_at > now),
        )
        .order_by(role.role)
    )


@dataclass
class KeyLookup:
    """The pending lookup of a request's API key (``principal.USER_LOOKUP``): the key's
    service user, or None for an unknown, revoked or expired key. After it ran, ``stale``
    holds the key's id when its last use is to be written (``touch``)."""

    catalog: Catalog
    database: Database
    key: str
    stale: int | None = field(default=None, init=False)

    def __call__(self) -> CurrentUser | None:
        with self.database.engine.connect() as connection:
            return self.on(connection)

    def on(self, connection: sa.Connection) -> CurrentUser | None:
        now = utcnow()
        params = {"key_hash": auth.digest(self.key), "now": now}
        rows = connection.execute(_lookup(self.catalog), params).all()
        if not rows:
            return None
        key_id, last = rows[0][-2], auth.aware(rows[0][-1])
        if last is None or now - last >= TOUCH_EVERY:
            self.stale = key_id
        return auth.principal_of(self.catalog, [row[:-2] for row in rows])

    def touch(self) -> None:
        """Write the key's last use (once a minute at most, whichever process is first)."""
        if self.stale is None:
            return
        keys = catalog_keys(self.catalog)
        now = utcnow()
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(keys)
                .where(
                    keys.id == self.stale,
                    sa.or_(keys.last_used_at.is_(None), keys.last_used_at <= now - TOUCH_EVERY),
                )
                .values(last_used_at=now)
            )
        self.stale = None


def catalog_keys(catalog: Catalog) -> Any:
    """The app's model of ``crm_api_keys``."""
    return catalog.table(ApiKeyTable)


# --- managing keys ---------------------------------------------------------------------------


def _manager(request: Request, catalog: Catalog) -> CurrentUser:
    """The signed-in user managing keys: 401 anonymous, 403 with a key or without
    ``manage_users``."""
    user = user_of(request)
    if request.scope.get("state", {}).get(STATE):
        if user is None:
            raise ApiError(401, "not_authenticated", "Sign in first.")
        raise ApiError(403, "forbidden", NOT_WITH_A_KEY)
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    if not catalog.manages_users(user):
        raise ApiError(403, "forbidden", MAY_NOT)
    return user


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", message, {name: message})


def _expiry(value: Any, now: dt.datetime) -> dt.datetime | None:
    """``expires_at``: an ISO 8601 time (UTC unless it says) or date (its start), in the future;
    null: never."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid("expires_at", "Give an ISO 8601 time such as 2030-01-31T00:00:00Z.")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())  # Python 3.11 reads a "Z"
    except ValueError:
        raise _invalid(
            "expires_at", "Give an ISO 8601 time such as 2030-01-31T00:00:00Z."
        ) from None
    moment = auth.aware(parsed)
    assert moment is not None
    if moment <= now:
        raise _invalid("expires_at", "The expiry must be in the future.")
    return moment


def check(catalog: Catalog, actor: CurrentUser, body: Any, now: dt.datetime) -> dict[str, Any]:
    """The valid input of a new key: name, role, expires_at (422 otherwise; 403 for a superuser
    role unless ``actor`` is a superuser)."""
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "The request body must be a JSON object.")
    unknown = sorted(set(body) - KEYS)
    if unknown:
        raise _invalid(unknown[0], f"Unknown key {unknown[0]!r}: send name, role, expires_at.")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "Name the key (what uses it: 'Website', 'Telephony').")
    if len(name.strip()) > MAX_NAME:
        raise _invalid("name", f"At most {MAX_NAME} characters.")
    role = body.get("role")
    roles = catalog.config.roles
    if not isinstance(role, str) or role not in roles:
        raise _invalid("role", f"One of the roles: {', '.join(sorted(roles))}.")
    if role in catalog.superuser_roles and not catalog.is_superuser(actor):
        raise ApiError(403, "forbidden", SUPERUSER_ONLY, {"role": SUPERUSER_ONLY})
    return {"name": name.strip(), "role": role, "expires_at": _expiry(body.get("expires_at"), now)}


def _shown(row: Any) -> dict[str, Any]:
    def moment(value: dt.datetime | None) -> str | None:
        aware = auth.aware(value)
        return None if aware is None else auth.iso(aware)

    expires = auth.aware(row.expires_at)
    status = "active"
    if row.revoked_at is not None:
        status = "revoked"
    elif expires is not None and expires <= utcnow():
        status = "expired"
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "role": row.role,
        "user_id": row.user_id,
        "created_by_id": row.created_by_id,
        "created_at": moment(row.created_at),
        "expires_at": moment(row.expires_at),
        "revoked_at": moment(row.revoked_at),
        "last_used_at": moment(row.last_used_at),
        "status": status,
    }


def listed(database: Database, catalog: Catalog) -> list[dict[str, Any]]:
    """Every key, newest first (never the key itself)."""
    keys = catalog_keys(catalog)
    with database.session() as session:
        rows = session.scalars(sa.select(keys).order_by(keys.id.desc())).all()
        return [_shown(row) for row in rows]


def create(
    database: Database, catalog: Catalog, actor: CurrentUser, body: Any, ip: str | None
) -> dict[str, Any]:
    """A new key and its service user (one transaction, audited): the answer holds ``key``, the
    only time it is shown."""
    now = utcnow()
    values = check(catalog, actor, body, now)
    key = generate()
    keys, user_model = catalog_keys(catalog), auth.user_model(catalog)
    with database.session() as session:
        user = user_model(
            email=f"key-new-{secrets.token_hex(8)}@{SERVICE_DOMAIN}",
            name=values["name"],
            active=False,
            password_hash=None,
        )
        user.roles = [values["role"]]
        session.add(user)
        try:
            session.flush()
        except sa.exc.IntegrityError:
            raise ApiError(
                409,
                "conflict",
                "The key's service user cannot be created: a User field the spec requires has "
                "no default.",
            ) from None
        row = keys(
            name=values["name"],
            prefix=key[:SHOWN],
            key_hash=auth.digest(key),
            role=values["role"],
            user_id=user.id,
            created_by_id=actor.id,
            created_at=now,
            expires_at=values["expires_at"],
        )
        session.add(row)
        session.flush()
        user.email = service_email(row.id)
        session.flush()
        expires = values["expires_at"]
        changes: dict[str, list[Any]] = {
            "name": [None, values["name"]],
            "role": [None, values["role"]],
            "user_id": [None, user.id],
            "expires_at": [None, None if expires is None else auth.iso(expires)],
        }
        _audit(session, catalog, actor, ip, row.id, "create", changes)
        return {**_shown(row), "key": key}


def revoke(
    database: Database, catalog: Catalog, actor: CurrentUser, key_id: int, ip: str | None
) -> None:
    """Revoke key ``key_id`` (audited; a revoked key stays revoked). A superuser-role key only
    by a superuser."""
    keys = catalog_keys(catalog)
    with database.session() as session:
        row = session.get(keys, key_id)
        if row is None:
            raise not_found("API key")
        if row.role in catalog.superuser_roles and not catalog.is_superuser(actor):
            raise ApiError(403, "forbidden", "Only a superuser may revoke a superuser's key.")
        if row.revoked_at is not None:
            return
        now = utcnow()
        row.revoked_at = now
        _audit(session, catalog, actor, ip, key_id, "update", {"revoked_at": [None, auth.iso(now)]})


def _audit(
    session: Session,
    catalog: Catalog,
    actor: CurrentUser,
    ip: str | None,
    key_id: int,
    action: str,
    changes: dict[str, list[Any]],
) -> None:
    audit.record(
        session,
        catalog,
        user=actor,
        ip=ip,
        entity=ENTITY,
        record_id=key_id,
        action=action,
        changes=changes,
    )


def _key_id(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise not_found("API key")
    return int(raw)


def routes(catalog: Catalog) -> list[BaseRoute]:
    """``/api_keys`` and ``/api_keys/{id}`` below ``/api``."""

    async def collection(request: Request) -> Response:
        database: Database = request.app.state.db
        if request.method == "POST":
            body = parse_json(await request.body())
            ip = auth_routes.client_of(request)[0]
            made = await run_in_threadpool(
                lambda: create(database, catalog, _manager(request, catalog), body, ip)
            )
            headers = {"Location": f"/api/api_keys/{made['id']}", "Cache-Control": "no-store"}
            return JSONResponse(made, status_code=201, headers=headers)

        def read() -> list[dict[str, Any]]:
            _manager(request, catalog)
            return listed(database, catalog)

        return JSONResponse({"items": await run_in_threadpool(read)})

    async def item(request: Request) -> Response:
        database: Database = request.app.state.db
        ip = auth_routes.client_of(request)[0]

        def revoking() -> None:
            actor = _manager(request, catalog)  # 401 / 403 before the id says anything
            revoke(database, catalog, actor, _key_id(request.path_params["id"]), ip)

        await run_in_threadpool(revoking)
        return Response(status_code=204)

    return [
        Route("/api_keys", collection, methods=["GET", "POST"], name="api_keys_collection"),
        Route("/api_keys/{id}", item, methods=["DELETE"], name="api_keys_item"),
    ]
