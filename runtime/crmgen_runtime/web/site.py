"""One app's web UI as an object: ``Site(catalog, root)``.

The UI's pages are Jinja2 templates (the app's ``templates/`` first, then those of the field
types' packages, then the runtime's, autoescaped; each form widget is a partial,
``crmgen_runtime.web.widgets``); the spec's labels, menus and views come from the app's
``ui.json`` and the UI's own words from ``messages/*.json`` (``crmgen_runtime.assets``). A
``Site`` holds all of that for one app, with the entities that get pages, and renders pages,
error pages and cells in a person's language. Several apps may live in one process, so nothing here is module-level
state: handlers reach their app's site (``request.app.state.site`` or a route factory's
argument). Every POST carries a CSRF token tied to the session (or, before signing in, to a
random cookie); every response has a Content-Security-Policy without inline scripts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from crmgen_runtime import (
    accounts,
    assets,
    credentials,
    crud,
    fields,
    permissions,
    phones,
    principal,
    request_ids,
    validation,
)
from crmgen_runtime.analytics import Analytics
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, current_user
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.web import badges, icons, widgets

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
        "f",  # public forms: /f/<name>
    }
)
UI_FILE = "ui.json"  # the spec's UI data, a build artefact the app ships beside its code
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
NUMBER_TYPES = frozenset({"integer", "bigint", "decimal", "float"})
FALLBACK_LOCALE = "en"  # the UI's words fall back to English where a locale has none

Translate = Callable[[str], str]


class _Blank(dict[str, str]):
    """Format parameters where a missing one stays visible as ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# --- what needs no app: requests, forms, CSRF, headers -----------------------------------


def csrf_token(request: Request, *, create: bool = True) -> str | None:
    """The CSRF token of the request's session (or of its anonymous CSRF cookie)."""
    return credentials.csrf_token(request, create=create)


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    """Whether the form carries the request's CSRF token."""
    return credentials.csrf_matches(request, form.get(CSRF_FIELD, ""))


def secure(request: Request, response: Response) -> Response:
    """``response`` with the UI's security headers and the CSRF cookie."""
    response.headers.update(SECURITY_HEADERS)
    credentials.set_csrf_cookie(request, response)
    return response


def redirect(request: Request, url: str) -> Response:
    """A 303 to ``url`` (after a POST, the browser GETs it)."""
    return secure(request, RedirectResponse(url, status_code=303))


def login_redirect(request: Request) -> Response:
    """To the sign-in page, coming back here afterwards."""
    return redirect(request, "/login?" + urlencode({"next": request.url.path}))


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
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
    """The address the request came from, when the server knows it."""
    return request.client.host if request.client else None


def allowed(resource: Resource, user: CurrentUser | None, action: str) -> bool:
    """Whether ``user`` may do ``action`` on ``resource`` at all (record rules aside)."""
    if action not in resource.actions or user is None:
        return False
    try:
        permissions.require(resource, user, action)
    except ApiError:
        return False
    return True


def fetch_record(
    database: Any, resource: Resource, user: CurrentUser, record_id: int, action: str
) -> dict[str, Any] | None:
    """One record as ``user`` may see it for ``action``; None when out of reach."""
    permissions.require(resource, user, action)
    if record_id > MAX_RECORD_ID:
        return None
    engine: Engine = database.engine
    with engine.connect() as connection:
        return crud.fetch_one(connection, resource, user, record_id, action=action)


# --- one app's site -------------------------------------------------------------------------


class Site:
    """One app's web UI: its catalog, its ``ui.json`` data, its words, its Jinja environment
    and the entities that get pages. ``root`` is the app package's folder (its ``ui.json`` and
    its own ``templates/``, ``static/``, ``messages/`` and ``custom/`` overrides)."""

    def __init__(
        self,
        catalog: Catalog,
        root: Path,
        *,
        spec: dict[str, Any] | None = None,
        analytics: Analytics | None = None,
    ) -> None:
        self.catalog = catalog
        self.root = root
        self.analytics = analytics  # the app's dashboards and reports (their pages need it)
        self.formats = catalog.config.formats
        self.phone_region = catalog.config.phone_region
        if spec is None:
            spec = json.loads((root / UI_FILE).read_text(encoding="utf-8"))
        self.spec: dict[str, Any] = spec
        self.entities: dict[str, dict[str, Any]] = spec["entities"]
        self.default_locale: str = spec["default_locale"]
        # The languages people may choose: the spec's ``app.locales``.
        self.locales: tuple[str, ...] = tuple(spec["locales"])
        # The field types' packages with web files of their own (a plugin's widget, its words).
        kinds = {
            meta["type"] for entity in self.entities.values() for meta in entity["fields"].values()
        }
        # The UI's own words, ``{locale: {key: text}}``: the runtime's, the plugins', the app's.
        self.messages = assets.messages(root, fields.asset_folders(kinds, "messages"))
        self.templates = jinja2.Environment(
            # the app's templates/ first, then the plugins', the runtime's
            loader=assets.template_loader(root, fields.asset_folders(kinds, "templates")),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["initials"] = badges.initials
        self.templates.filters["name_tone"] = badges.name_tone
        self.templates.globals["icon"] = icons.icon  # ``icon('users')``: an inline Lucide icon
        # The API path of the users' entity: its references show as avatars.
        self.users_path = badges.user_path(self.entities, accounts.USER)
        # The template of each form widget the app uses (``MissingWidget`` when one has none).
        self.widgets: dict[str, str] = widgets.templates(self.templates, self.widgets_used())
        resources = catalog.resources
        # The entities with pages: listed by the API, not on a path the UI keeps for itself.
        self.pages: dict[str, Resource] = {
            path: resources[path]
            for path in self.entities
            if path in resources and path not in RESERVED and "list" in resources[path].actions
        }

    def widgets_used(self) -> dict[str, str]:
        """The form widgets of the entities' fields, each with the first field that uses it
        (``deals.stage``)."""
        used: dict[str, str] = {}
        for path, entity in sorted(self.entities.items()):
            extra = entity.get("records", {}).get("widgets", {})
            for name, meta in entity["fields"].items():
                widget = extra.get(name) or meta.get("widget")
                if widget is not None:
                    used.setdefault(widget, f"{path}.{name}")
        return used

    # --- words ------------------------------------------------------------------------------

    def locale_of(self, request: Request) -> str:
        """The cookie's locale (this browser's choice), else the signed-in user's (chosen on
        their account page, when the user is known already), else the best of
        Accept-Language, else the spec's default."""
        chosen = request.cookies.get(LOCALE_COOKIE)
        if chosen in self.locales:
            return str(chosen)
        user = request.scope.get("state", {}).get("user")
        if user is not None and getattr(user, "locale", None) in self.locales:
            return str(user.locale)
        for part in request.headers.get("accept-language", "").split(","):
            tag = part.split(";")[0].strip().lower().split("-")[0]
            if tag in self.locales:
                return tag
        return self.default_locale

    def translator(self, locale: str) -> Translate:
        """``t(key)``: the UI's word ``key`` in ``locale`` (else English, else the key)."""
        words = self.messages.get(locale, {})
        fallback = self.messages.get(FALLBACK_LOCALE, {})

        def t(key: str) -> str:
            return words.get(key) or fallback.get(key, key)

        return t

    def field_errors(self, errors: dict[str, str], locale: str) -> dict[str, str]:
        """The API's messages about fields (``ApiError.fields``, English) in ``locale``.

        A message the validation knows (``validation.explain``) is translated from
        ``messages/validation.json`` (key ``invalid_<code>``); any other message stays as it is.
        """
        t = self.translator(locale)
        known_keys = self.messages.get(FALLBACK_LOCALE, {})
        result = {}
        for name, text in errors.items():
            known = validation.explain(text)
            key = f"invalid_{known[0]}" if known else ""
            if known and key in known_keys:
                result[name] = t(key).format_map(_Blank(known[1]))
            else:
                result[name] = text
        return result

    def pick(self, text: dict[str, str] | None, locale: str) -> str:
        """A spec label (``{locale: text}``) in ``locale``, falling back to the default locale."""
        if not text:
            return ""
        return text.get(locale) or text.get(self.default_locale) or next(iter(text.values()), "")

    # --- menus and pages --------------------------------------------------------------------

    def may_see(self, item: dict[str, Any], user: CurrentUser) -> bool:
        """Whether a menu entry leads somewhere ``user`` may go (the pages check again)."""
        if item["kind"] == "entity":
            return item["key"] in self.pages and allowed(self.pages[item["key"]], user, "list")
        roles = item.get("roles") or []
        return bool(user.superuser or not roles or set(roles) & set(user.roles))

    def navigation(self, user: CurrentUser, locale: str) -> list[dict[str, Any]]:
        """The spec's navigation: entity lists and views, dashboards and reports ``user`` may
        see, each with its icon's name (``icons.of_nav_item``)."""
        t = self.translator(locale)
        groups = []
        for group in self.spec["nav"]:
            items = [
                {
                    "url": item["url"],
                    "label": self.pick(item["label"], locale)
                    + (
                        f" · {t('view_' + item['view'])}"
                        if item.get("view", "list") != "list"
                        else ""
                    ),
                    "icon": icons.of_nav_item(item),
                }
                for item in group["items"]
                if self.may_see(item, user)
            ]
            if items:
                groups.append({"label": self.pick(group["label"], locale), "items": items})
        return groups

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        user: Any = None,
        status: int = 200,
    ) -> Response:
        """The page template ``name`` with ``context`` and what every page shows."""
        locale = self.locale_of(request)
        page = {
            "request": request,
            "user": user,
            "locale": locale,
            "locales": self.locales,
            "t": self.translator(locale),
            "pick": lambda text: self.pick(text, locale),
            "title": self.pick(self.spec["title"], locale),
            "nav": self.navigation(user, locale) if user is not None else [],
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_token(request),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "bell": self.bell(request, user),
            **context,
        }
        html = self.templates.get_template(name).render(page)
        return secure(request, HTMLResponse(html, status_code=status))

    def bell(self, request: Request, user: Any) -> Callable[[], int] | None:
        """The header's notification bell: its unread count, counted when the page shows it
        (one indexed count); None for an app without notifications or nobody signed in."""
        if user is None or not self.catalog.config.notifications:
            return None
        from crmgen_runtime import notifications

        database = request.app.state.db

        def unread() -> int:
            try:
                return notifications.unread_count(database, self.catalog, user.id)
            except sa.exc.SQLAlchemyError:  # an error page while the database is away
                return 0

        return unread

    def error_page(
        self, request: Request, status: int, key: str, user: Any = None, detail: str = ""
    ) -> Response:
        """``error.html`` with the UI's word ``key``, answered with ``status``."""
        message = self.translator(self.locale_of(request))(key)
        context = {
            "status": status,
            "message": message,
            "detail": detail,
            "request_id": request_ids.of(request.scope),
        }
        return self.render(request, "error.html", context, user=user, status=status)

    async def guard(
        self, request: Request, resource: Resource, action: str
    ) -> tuple[Any, Response | None]:
        """The signed-in user who may do ``action`` on ``resource``, or the page that says
        why not."""
        user = await principal.current_user(request)
        if user is None:
            return None, login_redirect(request)
        if not allowed(resource, user, action):
            return user, self.error_page(request, 403, "forbidden", user)
        if request.path_params.get("id", 1) > MAX_RECORD_ID:
            return user, self.error_page(request, 404, "not_found", user)
        return user, None

    def entity_context(self, path: str, locale: str, **extra: Any) -> dict[str, Any]:
        """What every page of one entity shows: its labels and its base URL."""
        entity = self.entities[path]
        return {
            "entity": entity,
            "singular": self.pick(entity["label"], locale),
            "plural": self.pick(entity["plural_label"], locale),
            "base": f"/{path}/",
            "entity_icon": icons.of_entity(entity),
            **extra,
        }

    # --- values for people ------------------------------------------------------------------

    def cell(self, meta: dict[str, Any], value: Any, locale: str) -> str:
        """A field's value as text for people, formatted for ``locale``."""
        if value is None:
            return ""
        if isinstance(value, dict) and "id" in value:
            return str(value.get("display") or f"#{value['id']}")
        if meta.get("choices"):
            for name, label in meta["choices"]:
                if name == value:
                    return self.pick(label, locale)
        if isinstance(value, bool):
            return self.translator(locale)("yes" if value else "no")
        if isinstance(value, list):
            return ", ".join(self.cell(meta, v, locale) for v in value)
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        if meta.get("currency"):  # an amount of money
            return self.formats.format_money(value, locale, meta["currency"])
        if meta.get("type") == "phone" and self.phone_region and isinstance(value, str):
            # national in the app's region, international elsewhere
            return phones.display(value, self.phone_region)
        # a type with a format of its own (a plugin type)
        shown = fields.display(meta.get("type", ""), value)
        if shown is not None:
            return shown
        return self._formatted(meta.get("type", ""), value, locale)

    def _formatted(self, kind: str, value: Any, locale: str) -> str:
        """``value`` by its field type's formatter (a date, a moment, a number), else as text."""
        formats = self.formats
        if kind == "date":
            return formats.format_day(value, locale)
        if kind == "datetime":
            return formats.format_moment(value, locale)
        if kind in NUMBER_TYPES:
            return formats.format_number(value, locale)
        if kind == "time":  # 09:30, or 09:30:15 with its seconds
            text = value.isoformat() if isinstance(value, dt.time) else str(value)
            return text.removesuffix(":00") if len(text) == 8 else text
        if isinstance(value, dt.datetime):  # a system column, e.g. created_at
            return formats.format_moment(value, locale)
        if isinstance(value, dt.date):
            return formats.format_day(value, locale)
        return str(value)

    def form_value(self, meta: dict[str, Any], value: Any) -> str:
        """A stored value as its form input shows it (a moment in the app's time zone)."""
        if value is None:
            return ""
        if isinstance(value, dict) and "id" in value:
            return str(value["id"])
        if isinstance(value, bool):
            return "on" if value else ""
        if meta["widget"] == "datetime-local":
            moment = self.formats.as_moment(value)
            return str(value) if moment is None else moment.strftime("%Y-%m-%dT%H:%M")
        return str(value)


def site_of(request: Request) -> Site:
    """The site of the app serving ``request`` (``app.state.site``, set by the app)."""
    site: Site = request.app.state.site
    return site


def translator_of(request: Request) -> Translate:
    """The UI's words in the request's locale, on the app's site."""
    site = site_of(request)
    return site.translator(site.locale_of(request))


async def signed_in_form(request: Request) -> tuple[CurrentUser, dict[str, str]] | Response:
    """A signed-in user's POSTed form with its CSRF token checked, or the answer that ends the
    request: to the sign-in page (anonymous) or the CSRF error page (403)."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site_of(request).error_page(request, 403, "csrf", user)
    return user, form
