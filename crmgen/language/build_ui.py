"""Navigation, dashboards (KPI cards and charts) and reports."""

from __future__ import annotations

from typing import Any

from crmgen.language import fields
from crmgen.language.context import USER, Context
from crmgen.language.expressions import EntityValue
from crmgen.language.model import (
    UI,
    Chart,
    Dashboard,
    Home,
    HomeKpi,
    HomeList,
    Kpi,
    Measure,
    NavGroup,
    NavItem,
    Report,
    ReportColumn,
)
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path


def build_ui(ctx: Context) -> UI:
    raw: dict[str, Any] = ctx.data.get("ui") or {}
    dashboards = tuple(
        _dashboard(ctx, n, d, ("ui", "dashboards", n))
        for n, d in (raw.get("dashboards") or {}).items()
    )
    reports = tuple(
        _report(ctx, n, r, ("ui", "reports", n)) for n, r in (raw.get("reports") or {}).items()
    )
    navigation = _navigation(ctx, raw.get("navigation"), ("ui", "navigation"))
    home = _home(ctx, raw["home"], ("ui", "home")) if raw.get("home") else None
    return UI(
        navigation,
        dashboards,
        reports,
        home,
        saved_views=raw.get("saved_views", True),
        inline_edit=raw.get("inline_edit", False),
    )


# --- the home page ("my day") ----------------------------------------------------------------

HOME_LISTS = {
    # key: (the date field's key, the user field's key, what it is)
    "tasks": ("due", "assignee", "tasks"),
    "meetings": ("start", "attendee", "meetings"),
}


def _home(ctx: Context, raw: dict[str, Any], path: Path) -> Home:
    lists = {
        key: _home_list(ctx, raw[key], path + (key,), *HOME_LISTS[key]) if raw.get(key) else None
        for key in HOME_LISTS
    }
    kpis = []
    for i, name in enumerate(raw.get("kpis") or ()):
        board, _, kpi = str(name).partition(".")
        boards = (ctx.data.get("ui") or {}).get("dashboards") or {}
        if kpi not in ((boards.get(board) or {}).get("kpis") or {}):
            from crmgen.diagnostics import did_you_mean

            known = [f"{d}.{k}" for d, b in boards.items() for k in ((b or {}).get("kpis") or {})]
            ctx.error(
                path + ("kpis", i),
                "home-kpi",
                f"unknown KPI '{name}': name one as <dashboard>.<kpi>"
                f"{did_you_mean(str(name), known)}",
            )
            continue
        kpis.append(HomeKpi(board, kpi))
    recent = raw.get("recent", 10)
    return Home(lists["tasks"], lists["meetings"], tuple(kpis), int(recent))


def _home_list(
    ctx: Context, raw: dict[str, Any], path: Path, date_key: str, user_key: str, what: str
) -> HomeList | None:
    entity = raw["entity"]
    if not ctx.known_entity(entity, path + ("entity",)):
        return None
    date = ctx.known_field(entity, raw[date_key], path + (date_key,))
    if date is not None and date.type not in ("date", "datetime"):
        ctx.error(
            path + (date_key,),
            "home",
            f"{what} are found by a date or datetime field; '{raw[date_key]}' is a {date.type} field",
        )
    user = ctx.known_field(entity, raw[user_key], path + (user_key,))
    if user is not None and (user.relation is None or user.relation.target != USER):
        ctx.error(
            path + (user_key,),
            "home",
            f"{user_key}: names the field that links {what} to their user (a ref to User); "
            f"'{raw[user_key]}' is a {user.type} field",
        )
    where_raw = raw.get("where") or {}
    for key, value in where_raw.items():
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and v.startswith("=") for v in items):
            ctx.error(
                path + ("where", key),
                "home-where",
                "the home page's conditions compare with constants (like status__in: [new, "
                "in_progress]); the user and today are applied already",
            )
            return None
        if "." in key.partition("__")[0]:
            ctx.error(
                path + ("where", key),
                "home-where",
                "the home page's conditions name the entity's own fields, not a path",
                True,
            )
            return None
    where = ctx.where(where_raw, path + ("where",), entity, _scope(ctx))
    return HomeList(entity, raw[date_key], raw[user_key], where, int(raw.get("days", 7)))


def _navigation(ctx: Context, raw: list[Any] | None, path: Path) -> tuple[NavGroup, ...]:
    if raw is None:
        return (NavGroup(Text(()), tuple(NavItem("entity", e) for e in ctx.fields)),)
    groups = []
    loose: list[NavItem] = []
    for i, entry in enumerate(raw):
        if isinstance(entry, dict) and "items" in entry:
            items = tuple(
                _nav_item(ctx, it, path + (i, "items", j)) for j, it in enumerate(entry["items"])
            )
            groups.append(NavGroup(Text.of(entry.get("label")), items))
        else:
            loose.append(_nav_item(ctx, entry, path + (i,)))
    if loose:
        groups.insert(0, NavGroup(Text(()), tuple(loose)))
    return tuple(groups)


def _nav_item(ctx: Context, raw: Any, path: Path) -> NavItem:
    if isinstance(raw, str):
        ctx.known_entity(raw, path)
        return NavItem("entity", raw)
    if "dashboard" in raw:
        _ui_ref(ctx, "dashboards", raw["dashboard"], path + ("dashboard",))
        return NavItem("dashboard", raw["dashboard"])
    if "report" in raw:
        _ui_ref(ctx, "reports", raw["report"], path + ("report",))
        return NavItem("report", raw["report"])
    entity = raw["entity"]
    view = raw.get("view", "list")
    if ctx.known_entity(entity, path + ("entity",)) and view in ("kanban", "calendar"):
        hints = ((ctx.data.get("entities") or {}).get(entity) or {}).get("ui") or {}
        if view not in hints:
            ctx.error(
                path + ("view",),
                "nav-view",
                f"{entity} has no {view} view; add ui: {{{view}: ...}} to the entity",
            )
    return NavItem("entity", entity, view)


def _ui_ref(ctx: Context, section: str, name: str, path: Path) -> None:
    table = (ctx.data.get("ui") or {}).get(section) or {}
    if name not in table and ("ui." + section, name) not in ctx.broken_names:
        from crmgen.diagnostics import did_you_mean

        ctx.error(
            path,
            "ref-" + section[:-1],
            f"unknown {section[:-1]} '{name}'{did_you_mean(name, table)}",
        )


def _measure(ctx: Context, raw: Any, entity: str, path: Path) -> Measure:
    if raw is None or raw == "count":
        return Measure("count")
    fn = next(k for k in ("sum", "avg", "min", "max", "count") if k in raw)
    name = raw[fn] if fn != "count" else None
    if name is not None:
        f = ctx.known_field(entity, name, path + (fn,))
        if f is not None and f.encrypted:
            ctx.error(
                path + (fn,),
                "encrypted",
                f"'{name}' is encrypted: the database cannot {fn} its values",
            )
        elif f is not None and fn in ("sum", "avg") and not fields.field_type(f.type).numeric:
            ctx.error(path + (fn,), "measure", f"cannot {fn} the {f.type} field '{name}'")
    weighted = raw.get("weighted_by")
    if weighted:
        f = ctx.known_field(entity, weighted, path + ("weighted_by",))
        unweighted = [v.name for v in f.values if v.weight is None] if f is not None else []
        if f is not None and f.type != "enum":
            ctx.error(
                path + ("weighted_by",),
                "measure",
                f"weighted_by needs an enum field whose values all have a weight; '{weighted}' is a {f.type} field",
            )
        elif unweighted:
            ctx.error(
                path + ("weighted_by",),
                "measure",
                f"weighted_by needs an enum field whose values all have a weight; '{weighted}' has none for {', '.join(unweighted)} (values: {{{unweighted[0]}: {{weight: 0.1}}, ...}})",
            )
    return Measure(fn, name, weighted)


def _roles(ctx: Context, raw: dict[str, Any], path: Path) -> tuple[str, ...]:
    roles = tuple(raw.get("roles") or ())
    for i, r in enumerate(roles):
        ctx.known_role(r, path + ("roles", i))
    return roles


def _scope(ctx: Context):
    return ctx.scope(user=EntityValue(USER))


def _dashboard(ctx: Context, name: str, raw: dict[str, Any], path: Path) -> Dashboard:
    kpis = []
    for kname, k in (raw.get("kpis") or {}).items():
        kp = path + ("kpis", kname)
        entity = k["entity"]
        ok = ctx.known_entity(entity, kp + ("entity",))
        measure = (
            _measure(ctx, k.get("measure"), entity, kp + ("measure",)) if ok else Measure("count")
        )
        where = ctx.where(k.get("where"), kp + ("where",), entity, _scope(ctx)) if ok else ()
        kpis.append(
            Kpi(
                kname,
                Text.of(k.get("label"), humanize(kname)),
                entity,
                measure,
                where,
                k.get("format", "number"),
            )
        )
    charts = []
    for cname, c in (raw.get("charts") or {}).items():
        cp = path + ("charts", cname)
        entity = c["entity"]
        ok = ctx.known_entity(entity, cp + ("entity",))
        measure = (
            _measure(ctx, c.get("measure"), entity, cp + ("measure",)) if ok else Measure("count")
        )
        where = ctx.where(c.get("where"), cp + ("where",), entity, _scope(ctx)) if ok else ()
        if ok:
            f = ctx.known_column(entity, c["group_by"], cp + ("group_by",))
            if f is not None and f.encrypted:
                ctx.error(
                    cp + ("group_by",),
                    "encrypted",
                    f"'{c['group_by']}' is encrypted: the database cannot group by its values",
                )
            if f is not None and "period" in c and f.type not in ("date", "datetime"):
                ctx.error(
                    cp + ("period",),
                    "chart",
                    f"period: groups dates; '{c['group_by']}' is a {f.type} field",
                )
            if f is not None and c["type"] == "funnel" and f.type != "enum":
                ctx.error(
                    cp + ("group_by",),
                    "chart",
                    f"a funnel chart groups by an enum field (its values are the funnel's stages, in order); '{c['group_by']}' is a {f.type} field",
                )
        charts.append(
            Chart(
                cname,
                Text.of(c.get("label"), humanize(cname)),
                c["type"],
                entity,
                c["group_by"],
                measure,
                where,
                c.get("period"),
            )
        )
    return Dashboard(
        name,
        Text.of(raw.get("label"), humanize(name)),
        _roles(ctx, raw, path),
        tuple(kpis),
        tuple(charts),
        ctx.pos(path, True),
    )


def _report(ctx: Context, name: str, raw: dict[str, Any], path: Path) -> Report:
    entity = raw["entity"]
    ok = ctx.known_entity(entity, path + ("entity",))
    group_by = tuple(raw.get("group_by") or ())
    if ok:
        for i, g in enumerate(group_by):
            f = ctx.known_column(entity, g, path + ("group_by", i))
            if f is not None and f.encrypted:
                ctx.error(
                    path + ("group_by", i),
                    "encrypted",
                    f"'{g}' is encrypted: the database cannot group by its values",
                )
    columns = []
    for cname, c in (raw.get("columns") or {"count": "count"}).items():
        cp = path + ("columns", cname)
        if isinstance(c, dict) and "measure" in c:
            measure = (
                _measure(ctx, c["measure"], entity, cp + ("measure",)) if ok else Measure("count")
            )
            label = Text.of(c.get("label"), humanize(cname))
        else:
            measure = _measure(ctx, c, entity, cp) if ok else Measure("count")
            label = Text.of(None, humanize(cname))
        columns.append(ReportColumn(cname, label, measure))
    where = ctx.where(raw.get("where"), path + ("where",), entity, _scope(ctx)) if ok else ()
    return Report(
        name,
        Text.of(raw.get("label"), humanize(name)),
        entity,
        group_by,
        tuple(columns),
        where,
        _roles(ctx, raw, path),
        ctx.pos(path, True),
    )
