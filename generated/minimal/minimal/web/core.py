"""The web UI's shared machinery: the spec's UI data, locales and words, CSRF, rendering.

Every page module (``auth_pages``, ``lists``, ``forms``, ``records``, ``boards``,
``dashboards``, ``imports``, ``documents``, ``search``) builds on these helpers. Pages are
Jinja2 templates (``PKG/templates/``, autoescaped); the spec's labels come from ``ui.json``
and the UI's own words from ``messages/*.json``. Every POST carries a CSRF token tied to the
session (or, before signing in, to a random cookie); every response has a
Content-Security-Policy without inline scripts.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from crmgen_runtime import (
    assets,
    credentials,
    crud,
    fields,
    permissions,
    principal,
    validation,
)
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Resource
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from minimal.resources import RESOURCES
from minimal.settings import FORMATS

ROOT = Path(__file__).parent.parent
SPEC: dict[str, Any] = json.loads((ROOT / "ui.json").read_text(encoding="utf-8"))
ENTITIES: dict[str, dict[str, Any]] = SPEC["entities"]
DEFAULT_LOCALE: str = SPEC["default_locale"]
# Paths the UI keeps for itself: an entity there gets no pages (its API still works).
RESERVED = frozenset(
    {
        "api",
        "static",
        "login",
        "logout",
        "locale",
        "healthz",
        "openapi.json",
        "password-reset",
        "search",
        "dashboards",
        "reports",
    }
)
LOCALE_COOKIE = "locale"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 1024 * 1024
MAX_FORM_FIELDS = 10_000  # a bulk action's ids, a many-to-many list: well below
MAX_RECORD_ID = 2**63 - 1
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# The UI's own words, ``{locale: {key: text}}``: the runtime's, under the app's ``messages/``.
MESSAGES = assets.messages(ROOT)
# The languages people may choose: the spec's ``app.locales`` (the UI's words fall back to
# English where a locale has none).
LOCALES: tuple[str, ...] = tuple(SPEC["locales"])

TEMPLATES = jinja2.Environment(
    loader=assets.template_loader(
        ROOT
    ),  # the app's templates/ first, then the runtime's
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


# --- locale, CSRF, rendering ---------------------------------------------------------------


def locale_of(request: Request) -> str:
    """The cookie's locale, else the best of Accept-Language, else the spec's default."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower().split("-")[0]
        if tag in LOCALES:
            return tag
    return DEFAULT_LOCALE


def translator(locale: str) -> Any:
    words = MESSAGES.get(locale, {})

    def t(key: str) -> str:
        return words.get(key) or MESSAGES["en"].get(key, key)

    return t


class _Blank(dict[str, str]):
    """Format parameters where a missing one stays visible as ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def field_errors(fields: dict[str, str], locale: str) -> dict[str, str]:
    """The API's messages about fields (``ApiError.fields``, English) in ``locale``.

    A message the validation knows (``validation.explain``) is translated from
    ``messages/validation.json`` (key ``invalid_<code>``); any other message stays as it is.
    """
    t = translator(locale)
    result = {}
    for name, text in fields.items():
        known = validation.explain(text)
        key = f"invalid_{known[0]}" if known else ""
        if known and key in MESSAGES["en"]:
            result[name] = t(key).format_map(_Blank(known[1]))
        else:
            result[name] = text
    return result


def pick(text: dict[str, str] | None, locale: str) -> str:
    """A spec label (``{locale: text}``) in ``locale``, falling back to the default locale."""
    if not text:
        return ""
    return text.get(locale) or text.get(DEFAULT_LOCALE) or next(iter(text.values()), "")


def csrf_token(request: Request, *, create: bool = True) -> str | None:
    """The CSRF token of the request's session (or of its anonymous CSRF cookie)."""
    return credentials.csrf_token(request, create=create)


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    return credentials.csrf_matches(request, form.get(CSRF_FIELD, ""))


def secure(request: Request, response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    credentials.set_csrf_cookie(request, response)
    return response


def allowed(resource: Resource, user: Any, action: str) -> bool:
    if action not in resource.actions or user is None:
        return False
    try:
        permissions.require(resource, user, action)
    except ApiError:
        return False
    return True


def may_see(item: dict[str, Any], user: Any) -> bool:
    """Whether a menu entry leads somewhere ``user`` may go (the pages check again)."""
    if item["kind"] == "entity":
        return item["key"] in PAGES and allowed(PAGES[item["key"]], user, "list")
    roles = item.get("roles") or []
    return bool(user.superuser or not roles or set(roles) & set(user.roles))


def navigation(user: Any, locale: str) -> list[dict[str, Any]]:
    """The spec's navigation: entity lists and views, dashboards and reports ``user`` may see."""
    t = translator(locale)
    groups = []
    for group in SPEC["nav"]:
        items = [
            {
                "url": item["url"],
                "label": pick(item["label"], locale)
                + (
                    f" · {t('view_' + item['view'])}"
                    if item.get("view", "list") != "list"
                    else ""
                ),
            }
            for item in group["items"]
            if may_see(item, user)
        ]
        if items:
            groups.append({"label": pick(group["label"], locale), "items": items})
    return groups


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    user: Any = None,
    status: int = 200,
) -> Response:
    locale = locale_of(request)
    page = {
        "request": request,
        "user": user,
        "locale": locale,
        "locales": LOCALES,
        "t": translator(locale),
        "pick": lambda text: pick(text, locale),
        "title": pick(SPEC["title"], locale),
        "nav": navigation(user, locale) if user is not None else [],
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request),
        "here": request.url.path
        + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    }
    html = TEMPLATES.get_template(name).render(page)
    return secure(request, HTMLResponse(html, status_code=status))


def redirect(request: Request, url: str) -> Response:
    return secure(request, RedirectResponse(url, status_code=303))


def error_page(
    request: Request, status: int, key: str, user: Any = None, detail: str = ""
) -> Response:
    message = translator(locale_of(request))(key)
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "detail": detail},
        user=user,
        status=status,
    )


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return "/"


async def read_pairs(request: Request) -> list[tuple[str, str]]:
    """The url-encoded form of a POST, every value of repeated names; 413 when it is over
    ``MAX_FORM_BYTES`` or has more than ``MAX_FORM_FIELDS`` fields (counted first)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, "too_large", f"The form is over {MAX_FORM_BYTES} bytes.")
    try:
        return parse_qsl(
            body.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError:
        message = f"The form has more than {MAX_FORM_FIELDS} fields."
        raise ApiError(413, "too_large", message) from None


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST (the last value of each name)."""
    return dict(await read_pairs(request))


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def login_redirect(request: Request) -> Response:
    return redirect(request, "/login?" + urlencode({"next": request.url.path}))


FORMATTERS = {
    "date": FORMATS.format_day,
    "datetime": FORMATS.format_moment,
    "integer": FORMATS.format_number,
    "decimal": FORMATS.format_number,
    "float": FORMATS.format_number,
}


def cell(meta: dict[str, Any], value: Any, locale: str) -> str:
    """A field's value as text for people, formatted for ``locale``."""
    if value is None:
        return ""
    if isinstance(value, dict) and "id" in value:
        return str(value.get("display") or f"#{value['id']}")
    if meta.get("choices"):
        for name, label in meta["choices"]:
            if name == value:
                return pick(label, locale)
    if isinstance(value, bool):
        return translator(locale)("yes" if value else "no")
    if isinstance(value, list):
        return ", ".join(cell(meta, v, locale) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if meta.get("currency"):  # an amount of money
        return FORMATS.format_money(value, locale, meta["currency"])
    # a type with a format of its own (a plugin type)
    shown = fields.display(meta.get("type", ""), value)
    if shown is not None:
        return shown
    formatter = FORMATTERS.get(meta.get("type", ""))
    if formatter is None and isinstance(
        value, dt.date
    ):  # a system column, e.g. created_at
        formatter = (
            FORMATS.format_moment
            if isinstance(value, dt.datetime)
            else FORMATS.format_day
        )
    return formatter(value, locale) if formatter else str(value)


def form_value(meta: dict[str, Any], value: Any) -> str:
    """A stored value as its form input shows it."""
    if value is None:
        return ""
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])
    if isinstance(value, bool):
        return "on" if value else ""
    if (
        meta["widget"] == "datetime-local"
    ):  # in the app's time zone, as the pages show it
        moment = FORMATS.as_moment(value)
        return str(value) if moment is None else moment.strftime("%Y-%m-%dT%H:%M")
    return str(value)


def fetch_record(
    database: Any, resource: Resource, user: Any, record_id: int, action: str
) -> dict[str, Any] | None:
    permissions.require(resource, user, action)
    if record_id > MAX_RECORD_ID:
        return None
    with database.engine.connect() as connection:
        return crud.fetch_one(connection, resource, user, record_id, action=action)


# The entities with pages: listed by the API, not on a path the UI keeps for itself.
PAGES: dict[str, Resource] = {
    path: RESOURCES[path]
    for path in ENTITIES
    if path in RESOURCES and path not in RESERVED and "list" in RESOURCES[path].actions
}


async def guard(
    request: Request, resource: Resource, action: str
) -> tuple[Any, Response | None]:
    """The signed-in user who may do ``action`` on ``resource``, or the page that says why not."""
    user = await principal.current_user(request)
    if user is None:
        return None, login_redirect(request)
    if not allowed(resource, user, action):
        return user, error_page(request, 403, "forbidden", user)
    if request.path_params.get("id", 1) > MAX_RECORD_ID:
        return user, error_page(request, 404, "not_found", user)
    return user, None


def entity_context(path: str, locale: str, **extra: Any) -> dict[str, Any]:
    """What every page of one entity shows: its labels and its base URL."""
    entity = ENTITIES[path]
    return {
        "entity": entity,
        "singular": pick(entity["label"], locale),
        "plural": pick(entity["plural_label"], locale),
        "base": f"/{path}/",
        **extra,
    }
