"""The app settings, roles, custom endpoints and integrations."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from crmgen_runtime import assets, phones

from crmgen.diagnostics import did_you_mean
from crmgen.language.build_entities import build_field
from crmgen.language.build_mail import check_imap
from crmgen.language.context import Context
from crmgen.language.integrations import INTEGRATION_TYPES
from crmgen.language.model import App, Endpoint, Integration, Role, Setting
from crmgen.language.names import name_problem
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path

FALLBACK_LOCALE = "en"  # the locale of the UI's words where a locale has none (the runtime's)
_PARAM = re.compile(r"\{([^{}]*)\}")


def build_app(ctx: Context, spec_name: str) -> App:
    raw: dict[str, Any] = ctx.data.get("app") or {}
    path: Path = ("app",)
    name = raw.get("name") or spec_name
    problem = name_problem(name, "app")
    if problem:
        ctx.error(
            path + ("name",) if "name" in raw else path,
            "name",
            problem + ("" if "name" in raw else " (set app: name:)"),
        )
    locales = tuple(raw.get("locales") or ("en",))
    for i, loc in enumerate(locales):
        if locales.index(loc) != i:
            ctx.error(path + ("locales", i), "locale", f"the locale '{loc}' is listed twice")
    _untranslated(ctx, path, locales)
    default = raw.get("default_locale", locales[0])
    if default not in locales:
        ctx.error(
            path + ("default_locale",),
            "locale",
            f"the default locale '{default}' is not in locales ({', '.join(dict.fromkeys(locales))})",
        )
    timezone = raw.get("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        hint = (
            did_you_mean(str(timezone), available_timezones()) if isinstance(timezone, str) else ""
        )
        ctx.error(
            path + ("timezone",),
            "timezone",
            f"unknown time zone '{timezone}'{hint or ' (use a name like Europe/Moscow or Asia/Jakarta)'}",
        )
    phone_region = _phone_region(ctx, path, raw.get("phone_region"))
    auth = raw.get("auth") or {}
    two_factor = auth.get("two_factor", True)
    required = two_factor.get("required_for") or () if isinstance(two_factor, dict) else ()
    return App(
        name=name,
        title=Text.of(raw.get("title"), humanize(name)),
        locales=locales,
        default_locale=default,
        timezone=timezone,
        currency=raw.get("currency", "USD"),
        lockout_attempts=auth.get("lockout_attempts", 5),
        lockout_minutes=auth.get("lockout_minutes", 30),
        two_factor=two_factor is not False,
        api_keys=auth.get("api_keys", True) is not False,
        two_factor_required=tuple(dict.fromkeys(required)),
        description=Text.of(raw.get("description")),
        allow_drop=tuple(raw.get("allow_drop") or ()),
        allow_hosts=_allow_hosts(ctx, raw.get("allow_hosts") or (), path + ("allow_hosts",)),
        phone_region=phone_region,
    )


_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"
)


def _allow_hosts(ctx: Context, raw: Any, path: Path) -> tuple[str, ...]:
    """``app.allow_hosts``: host names (or IP addresses) written as they are, nothing more."""
    hosts: list[str] = []
    for i, host in enumerate(raw if isinstance(raw, (list, tuple)) else ()):
        name = str(host).strip().lower().rstrip(".")
        literal = name.strip("[]")
        try:
            ipaddress.ip_address(literal)
            ok = True
        except ValueError:
            ok = bool(_HOST.match(name))
        if not ok:
            hint = ""
            if "://" in name or "/" in name:
                hint = " (write the host alone, without scheme or path)"
            elif ":" in name:
                hint = " (write the host without a port)"
            elif "*" in name:
                hint = " (hosts are allowed one by one, by name)"
            ctx.error(path + (i,), "allow-hosts", f"'{host}' is not a host name{hint}")
            continue
        if literal in hosts:
            ctx.error(path + (i,), "allow-hosts", f"the host '{host}' is listed twice")
        hosts.append(literal)
    return tuple(hosts)


def _phone_region(ctx: Context, path: Path, region: Any) -> str:
    """``app.phone_region``, checked against the regions ``phonenumbers`` knows ("": none)."""
    if region is None or not isinstance(region, str):
        return ""  # not given (a wrong type is the schema's error)
    if phones.known_region(region):
        return region
    # two-letter codes are all close to each other: only a wrong case gets a guess
    hint = f"; did you mean '{region.upper()}'?" if phones.known_region(region.upper()) else ""
    ctx.error(
        path + ("phone_region",),
        "phone_region",
        f"unknown phone region '{region}'{hint or ' (use a two-letter region code like RU, ID or GB)'}",
    )
    return ""


def _untranslated(ctx: Context, path: Path, locales: tuple[str, ...]) -> None:
    """A warning for each locale the UI has no words in: its pages show the runtime's English
    words (the spec's own labels in that locale still show)."""
    translated = set(assets.messages())
    for i, loc in enumerate(locales):
        if isinstance(loc, str) and loc not in translated and locales.index(loc) == i:
            ctx.warn(
                path + ("locales", i),
                "locale",
                f"the UI has no messages in '{loc}' (it has {', '.join(sorted(translated))}): "
                f"its buttons, menus and errors show in English ('{FALLBACK_LOCALE}') instead",
            )


def build_roles(ctx: Context) -> list[Role]:
    roles = []
    for name, raw in (ctx.data.get("roles") or {}).items():
        path: Path = ("roles", name)
        problem = name_problem(name, "role")
        if problem:
            ctx.error(path, "name", problem, at_key=True)
        detail = raw if isinstance(raw, dict) else {"label": raw} if raw is not None else {}
        roles.append(
            Role(
                name=name,
                label=Text.of(detail.get("label"), humanize(name)),
                position=ctx.pos(path, True),
                superuser=bool(detail.get("superuser", False)),
                audit=bool(detail.get("audit", detail.get("superuser", False))),
                description=Text.of(detail.get("description")),
                manage_users=bool(detail.get("superuser") or detail.get("manage_users")),
                send_email=bool(detail.get("superuser") or detail.get("send_email")),
            )
        )
    if not roles:
        ctx.error(
            ("roles",) if "roles" in ctx.data else (),
            "roles",
            "the spec needs at least one role (roles: {admin: {superuser: true}})",
            "roles" in ctx.data,
        )
    return roles


# A record's sub-paths the app itself answers (CONTRACT.md), by method: no endpoint takes them.
RECORD_SUBPATHS = {
    "comments": ("GET", "POST"),
    "attachments": ("GET", "POST"),
    "emails": ("GET", "POST"),
    "personal-data": ("GET",),
    "erase": ("POST",),
}


def build_endpoints(
    ctx: Context, entity_paths: dict[str, str], backs: dict[tuple[str, str], str]
) -> dict[str, Endpoint]:
    """The spec's custom endpoints; ``backs`` maps (entity path, back name) to the relation
    whose back side ``GET /api/<path>/{id}/<back>`` lists (a path no endpoint may take)."""
    endpoints: dict[str, Endpoint] = {}
    seen: dict[tuple[str, str], str] = {}
    for name, raw in (ctx.data.get("endpoints") or {}).items():
        path: Path = ("endpoints", name)
        method = raw.get("method", "POST")
        url = raw["path"]
        params = _PARAM.findall(url)
        entity = None
        for p in params:
            if p != "id":
                ctx.error(
                    path + ("path",),
                    "endpoint-path",
                    f"the path parameter '{{{p}}}' is not supported; use {{id}} (the record of the entity the path starts with)",
                )
        segments = [s for s in url.strip("/").split("/") if s]
        if "id" in params:
            head = segments[0] if segments else ""
            entity = entity_paths.get(head)
            if entity is None:
                ctx.error(
                    path + ("path",),
                    "endpoint-path",
                    f"a path with {{id}} must start with an entity's API path ({', '.join(sorted(entity_paths))}); got '/{head}'",
                )
        if (
            len(segments) <= 2
            and segments
            and segments[0] in entity_paths
            and (len(segments) == 1 or segments[1] == "{id}")
        ):
            ctx.error(
                path + ("path",),
                "endpoint-path",
                f"'{url}' is already the automatic CRUD path of {entity_paths[segments[0]]}; choose a deeper path like /{segments[0]}/{{id}}/{name}",
            )
        if len(segments) == 3 and segments[0] in entity_paths and segments[1] == "{id}":
            taken_by = backs.get((segments[0], segments[2])) if method == "GET" else None
            if taken_by is not None:
                ctx.error(
                    path + ("path",),
                    "endpoint-path",
                    f"GET {url} already lists the back side of {taken_by}; choose another path",
                )
            elif method in RECORD_SUBPATHS.get(segments[2], ()):
                ctx.error(
                    path + ("path",),
                    "endpoint-path",
                    f"{method} {url} is a path the app keeps for every record ({segments[2]}); choose another path",
                )
        key = (method, _PARAM.sub("{}", url))
        if key in seen:
            ctx.error(
                path + ("path",),
                "endpoint-path",
                f"{method} {url} is also the path of the endpoint '{seen[key]}'",
            )
        seen[key] = name
        roles = tuple(raw.get("roles") or ())
        for i, r in enumerate(roles):
            ctx.known_role(r, path + ("roles", i))
        inputs = tuple(
            build_field(ctx, f"endpoint {name}", fname, fraw, path + ("input", fname))
            for fname, fraw in (raw.get("input") or {}).items()
        )
        for f in inputs:
            if f.relation is not None:
                ctx.known_entity(f.relation.target, path + ("input", f.name, "to"))
        endpoints[name] = Endpoint(
            name,
            method,
            url,
            roles,
            inputs,
            ctx.pos(path, True),
            Text.of(raw.get("label"), humanize(name)),
            entity,
        )
    return endpoints


def build_integrations(ctx: Context) -> list[Integration]:
    out = []
    for name, raw in (ctx.data.get("integrations") or {}).items():
        path: Path = ("integrations", name)
        itype = INTEGRATION_TYPES[raw["type"]]
        if itype.name == "imap":
            check_imap(ctx, name, raw)
        settings = []
        if "allow_hosts" in raw:
            hosts = _allow_hosts(ctx, raw["allow_hosts"], path + ("allow_hosts",))
            settings.append(Setting("allow_hosts", value=hosts))
        for key, value in raw.items():
            if key in ("type", "events", "allow_hosts"):
                continue
            if isinstance(value, dict):
                settings.append(Setting(key, env=value["env"], value=value.get("default")))
            else:
                settings.append(Setting(key, value=value))
        events = tuple(raw.get("events") or ())
        for i, ev in enumerate(events):
            entity = ev.split(".")[0]
            ctx.known_entity(entity, path + ("events", i))
        out.append(Integration(name, itype.name, tuple(settings), ctx.pos(path, True), events))
    return out
