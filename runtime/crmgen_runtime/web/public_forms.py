"""Public forms: the spec's ``forms:`` served without sign-in at ``/f/<name>``.

``GET /f/<name>`` is the form's page (its own small layout, fit for an iframe; the query
string's utm parameters ride along in hidden inputs). ``POST /f/<name>`` takes a url-encoded
form (the page's, or a website's own ``<form action=...>``; answered with a page) or a JSON
object (answered with JSON, ``{"ok": true, "message": ...}``). The form fills only its declared
fields and utm fields: anything else in a url-encoded post is ignored, in a JSON post it is a
422. The record is created by ``writes.create_in`` as the form's owner (a user by e-mail, or
the next active user of a role, round robin), so the same validation, defaults, record rules,
audit and processes run as for any create, with that owner as ``user``.

Why no CSRF token: the form is public and meant to be posted from other sites, so there is no
session to protect and no token a website could know. What guards it instead:

- a honeypot input hidden from people: a post that fills it is answered as a success and
  creates nothing;
- a per-address limit kept in the database (``throttle``: ``RATE_LIMIT`` posts per
  ``RATE_WINDOW`` per client address, across every form and app process; then 429);
- origin checks: a browser's post whose ``Origin`` is neither this app nor one of the form's
  ``origins`` is refused (403), the page may be framed only by the app and those origins
  (``Content-Security-Policy: frame-ancestors``; every other page keeps ``'none'``), and CORS
  answers (``Access-Control-Allow-Origin``) go to those origins only, never with credentials.
  No cookie is read or set here, so a post cannot act as a signed-in user.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import auth, consent, throttle, writes
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.tables import utcnow
from crmgen_runtime.web import forms, widgets
from crmgen_runtime.web.site import SECURITY_HEADERS, Site, client_ip, read_pairs, site_of

log = logging.getLogger(__name__)

RATE_LIMIT = 20  # posts per address ...
RATE_WINDOW = dt.timedelta(minutes=1)  # ... within this window
HONEYPOT = "homepage_url"  # the hidden input only a robot fills
CONSENT = "consent"  # the consent checkbox, when the form has a consent text
MAX_JSON_BYTES = 64 * 1024
CORS_MAX_AGE = "600"


# --- headers ---------------------------------------------------------------------------------


def frame_policy(form: dict[str, Any]) -> str:
    """The page's Content-Security-Policy: the UI's, framed by the app and the form's origins."""
    ancestors = " ".join(["'self'", *form["origins"]])
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    return policy.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


def _headers(form: dict[str, Any], origin: str | None) -> dict[str, str]:
    headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "X-Frame-Options"}
    headers["Content-Security-Policy"] = frame_policy(form)
    headers["Vary"] = "Origin"
    if origin is not None and origin.lower() in form["origins"]:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def _same_origin(request: Request, origin: str) -> bool:
    host = request.headers.get("host", "")
    return origin.lower() in (f"http://{host}".lower(), f"https://{host}".lower())


def origin_allowed(request: Request, form: dict[str, Any]) -> bool:
    """A request without ``Origin`` (not a browser's cross-site one), or from this app, or from
    one of the form's origins."""
    origin = request.headers.get("origin")
    return origin is None or _same_origin(request, origin) or origin.lower() in form["origins"]


# --- the owner -------------------------------------------------------------------------------


def _round_robin(
    session: Session, resource: Resource, name: str, role: str, now: dt.datetime
) -> int | None:
    """The active user of ``role`` after the owner of the entity's latest record (by id)."""
    catalog = resource.catalog
    throttle.lock(catalog, session, throttle.stripe("form-owner", name), now)
    user, entry = auth.user_model(catalog), auth.role_model(catalog)
    users = list(
        session.scalars(
            sa.select(user.id)
            .join(entry, entry.user_id == user.id)
            .where(entry.role == role, user.active.is_(True))
            .order_by(user.id)
        )
    )
    if not users:
        return None
    assert resource.owner is not None
    column = resource.model.__table__.c[resource.fields[resource.owner].column_name]
    table = resource.model.__table__
    last = session.scalar(
        sa.select(column).where(column.is_not(None)).order_by(table.c.id.desc()).limit(1)
    )
    chosen: int = next((u for u in users if last is None or u > last), users[0])
    return chosen


def owner_of(
    session: Session, resource: Resource, name: str, form: dict[str, Any], now: dt.datetime
) -> CurrentUser | None:
    """The user the form creates as: its ``user`` (by e-mail) or the next of its role."""
    catalog = resource.catalog
    owner = form["owner"]
    if "user" in owner:
        found = auth.find_user(catalog, session, str(owner["user"]).strip().lower())
        user_id = found.id if found is not None and found.active else None
    else:
        user_id = _round_robin(session, resource, name, owner["round_robin"], now)
    return None if user_id is None else auth.user_on_id(session, catalog, user_id)


# --- submitting --------------------------------------------------------------------------------


def admit(site: Site, database: Any, ip: str | None) -> bool:
    """Whether the client address has posts left (one more counted, in its own transaction)."""
    now = utcnow()
    name = throttle.key("form-address", auth.address_bucket(ip))
    with database.session() as session:
        admitted = throttle.admit(site.catalog, session, name, RATE_LIMIT, RATE_WINDOW, now)
    throttle.prune(site.catalog, database, now - RATE_WINDOW)
    return admitted


def create(
    site: Site,
    database: Any,
    name: str,
    form: dict[str, Any],
    payload: dict[str, Any],
    ip: str | None,
) -> int:
    """The new record's id, created as the form's owner (ApiError when refused)."""
    resource = site.catalog.by_name[form["entity"]]
    with writes.integrity(resource, "create"), database.session() as session:
        owner = owner_of(session, resource, name, form, utcnow())
        if owner is None:
            log.warning("form %s: no active owner to create records as", name)
            raise ApiError(503, "unavailable", "The form cannot take messages now.")
        try:
            with consent.source("form"):
                return writes.create_in(session, resource, owner, payload, ip)
        except ApiError as exc:
            if exc.status != 403:
                raise
            log.warning("form %s: its owner may not create this record: %s", name, exc.message)
            raise ApiError(503, "unavailable", "The form cannot take messages now.") from None


def _wants_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json"


async def _json_values(request: Request, form: dict[str, Any]) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"The body is over {MAX_JSON_BYTES} bytes.")
    try:
        data = orjson.loads(body)
    except ValueError:
        raise ApiError(400, "bad_json", "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "The body must be a JSON object.")
    known = {f["name"] for f in form["fields"]} | set(form["utm"]) | {HONEYPOT, CONSENT}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        message = "The form does not take these fields."
        raise ApiError(
            422, "validation_error", message, dict.fromkeys(unknown, "Not a field of this form.")
        )
    return data


def _values_of(
    site: Site,
    form: dict[str, Any],
    data: dict[str, Any],
    query: dict[str, str],
    *,
    as_json: bool,
    locale: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The create payload from the declared fields (and utm fields, the body's or the query
    string's) only; errors found before the API is asked."""
    if as_json:
        payload = {
            f["name"]: data[f["name"]]
            for f in form["fields"]
            if f["name"] in data and data[f["name"]] not in ("", None)
        }
        errors: dict[str, str] = {}
    else:
        payload, errors = forms.payload_of(site, form["fields"], data, partial=False, locale=locale)
    for name in form["utm"]:
        value = data.get(name) or query.get(name)
        if isinstance(value, str) and value.strip():
            payload[name] = value.strip()
    return payload, errors


def _consented(form: dict[str, Any], data: dict[str, Any]) -> bool:
    if not form["consent"]:
        return True
    return data.get(CONSENT) in ("on", True, "true", "1")


# --- the page --------------------------------------------------------------------------------


def _page(
    request: Request,
    site: Site,
    name: str,
    form: dict[str, Any],
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    done: bool = False,
    status: int = 200,
) -> Response:
    locale = site.locale_of(request)
    query = dict(request.query_params)
    utm = {n: (values or {}).get(n) or query.get(n, "") for n in form["utm"]}
    context = {
        "locale": locale,
        "t": site.translator(locale),
        "pick": lambda text: site.pick(text, locale),
        "form": form,
        "action": f"/f/{name}",
        "values": values or {},
        "errors": errors or {},
        "options": {},
        "widgets": widgets.templates(
            site.templates, {f["widget"]: f"{name}.{f['name']}" for f in form["fields"]}
        ),
        "utm": {k: v for k, v in utm.items() if v},
        "done": done,
        "honeypot": HONEYPOT,
        "consent_field": CONSENT,
    }
    html = site.templates.get_template("public_form.html").render(context)
    response = HTMLResponse(html, status_code=status)
    response.headers.update(_headers(form, request.headers.get("origin")))
    return response


def _json(form: dict[str, Any], origin: str | None, body: dict[str, Any], status: int) -> Response:
    response = JSONResponse(body, status_code=status)
    response.headers.update(_headers(form, origin))
    return response


def _refusal(
    request: Request, site: Site, name: str, form: dict[str, Any], exc: ApiError, as_json: bool
) -> Response:
    origin = request.headers.get("origin")
    if as_json:
        error = {"code": exc.code, "message": exc.message, "fields": exc.fields or {}}
        return _json(form, origin, {"error": error}, exc.status)
    t = site.translator(site.locale_of(request))
    key = {429: "form_too_many", 403: "form_origin_refused", 503: "form_unavailable"}
    message = t(key[exc.status]) if exc.status in key else exc.message
    return _page(request, site, name, form, errors={"": message}, status=exc.status)


async def public_form(request: Request) -> Response:
    """``GET|POST|OPTIONS /f/<name>``."""
    site = site_of(request)
    name = request.path_params["name"]
    form = site.spec.get("forms", {}).get(name)
    if form is None:
        return site.error_page(request, 404, "not_found")
    origin = request.headers.get("origin")
    if request.method == "OPTIONS":  # a CORS preflight (a JSON post)
        if origin is None or origin.lower() not in form["origins"]:
            return Response(status_code=403, headers={"Vary": "Origin"})
        headers = _headers(form, origin) | {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type, Accept",
            "Access-Control-Max-Age": CORS_MAX_AGE,
        }
        return Response(status_code=204, headers=headers)
    if request.method == "GET":
        return _page(request, site, name, form)
    as_json = _wants_json(request)
    try:
        if not origin_allowed(request, form):
            raise ApiError(403, "forbidden", "Posts from this origin are not accepted.")
        database = request.app.state.db
        ip = client_ip(request)
        if not await run_in_threadpool(admit, site, database, ip):
            raise ApiError(
                429, "too_many_requests", "Too many posts from this address; wait a minute."
            )
        data: dict[str, Any] = (
            await _json_values(request, form) if as_json else dict(await read_pairs(request))
        )
        if data.get(HONEYPOT):  # a robot: it hears what a person would, nothing is made
            log.info("form %s: honeypot filled; nothing created", name)
            return _done(request, site, name, form, as_json)
        locale = site.locale_of(request)
        payload, errors = _values_of(
            site, form, data, dict(request.query_params), as_json=as_json, locale=locale
        )
        if not _consented(form, data):
            errors[CONSENT] = site.translator(locale)("form_consent_required")
        if errors:
            raise ApiError(422, "validation_error", "Some fields are invalid.", errors)
        await run_in_threadpool(create, site, database, name, form, payload, ip)
    except ApiError as exc:
        if exc.status == 422 and not as_json:
            locale = site.locale_of(request)
            shown = site.field_errors(exc.fields or {}, locale)
            if not exc.fields:
                shown[""] = exc.message
            values = data if "data" in locals() else {}
            return _page(request, site, name, form, values=values, errors=shown, status=422)
        return _refusal(request, site, name, form, exc, as_json)
    return _done(request, site, name, form, as_json)


def _done(request: Request, site: Site, name: str, form: dict[str, Any], as_json: bool) -> Response:
    if as_json:
        message = site.pick(form["success"], site.locale_of(request))
        return _json(form, request.headers.get("origin"), {"ok": True, "message": message}, 200)
    return _page(request, site, name, form, done=True)


def routes() -> list[BaseRoute]:
    """``/f/<name>``: each form of the app's ``ui.json``."""
    return [Route("/f/{name}", public_form, methods=["GET", "POST", "OPTIONS"])]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """No pages per entity."""
    return []
