"""The home page: the signed-in user's day ("my day", the spec's ``ui.home``).

With ``ui.home`` the page shows the user's tasks due today and overdue, their meetings in the
next days, the records they touched recently and their own KPIs; without it, the records they
touched recently and the menu as tiles. Every read goes through the functions the API and the
dashboards use, with the user, so their rules hold:

- the tasks and meetings are one page each of the list query (``crud.list_records``: the
  entity's ``list`` rule, soft-deleted records left out), filtered by the user field (the
  user's id), the date and the spec's conditions (``ui.json``'s ``home``, list parameters);
- the recent records are the latest entries of the audit log written by the user, each shown
  only while the user may still read the record (``links.names``: live, within the read rule);
- the KPIs are those of dashboards the user's role may open, computed by ``Analytics`` with
  the user's record rules (a seller's "open deals" are their own).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crmgen_runtime import crud, links
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.tables import AuditEntryTable
from crmgen_runtime.web.dashboards import number_text, plain, short_text
from crmgen_runtime.web.site import Site, allowed

LIST_ROWS = 20  # tasks or meetings shown
AUDIT_SCAN = 200  # audit entries read to find the recent records


class MyDay:
    """What the home page shows ``user`` of the app's ``site`` in ``locale`` (blocking)."""

    def __init__(self, site: Site, database: Any, user: CurrentUser, locale: str) -> None:
        self.site, self.database, self.user, self.locale = site, database, user, locale
        self.home: dict[str, Any] | None = site.spec.get("home")
        self.clock = site.catalog.config.clock

    def context(self) -> dict[str, Any]:
        home = self.home or {}
        return {
            "my_day": self.home is not None,
            "tasks": self.tasks(home.get("tasks")),
            "meetings": self.meetings(home.get("meetings")),
            "recent": self.recent(home.get("recent", 10)),
            "kpis": self.kpis(home.get("kpis") or []),
        }

    # --- tasks and meetings --------------------------------------------------------------

    def _page(
        self, spec: dict[str, Any] | None, params: list[tuple[str, str]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The records of a home list (``spec``) the user may list, by ``params`` too."""
        if spec is None:
            return None
        resource = self.site.pages.get(spec["path"])
        if resource is None or not allowed(resource, self.user, "list"):
            return None
        query = [
            (spec["user"], str(self.user.id)),
            *[(key, value) for key, value in spec["params"]],
            *params,
            ("sort", f"{spec['date']},id"),
            ("limit", str(LIST_ROWS)),
        ]
        try:
            page = crud.list_records(self.database, resource, self.user, query, count=False)
        except ApiError:  # a field the role may not read or filter on
            return None
        return spec, page["items"]

    def _rows(self, spec: dict[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        site, locale = self.site, self.locale
        entity = site.entities[spec["path"]]
        meta = entity["fields"].get(spec["date"], {"type": spec["date_type"]})
        return [
            {
                "url": f"/{spec['path']}/{item['id']}",
                "title": site.cell({}, item.get(entity["display"]), locale) or f"#{item['id']}",
                "when": site.cell(meta, item.get(spec["date"]), locale),
                "value": item.get(spec["date"]),
            }
            for item in items
        ]

    def _bounds(self, spec: dict[str, Any], days: int) -> tuple[str, str]:
        """The start of today and the start of the day ``days`` ahead, as the date field's
        filters take them (dates, or moments in the app's time zone)."""
        today = self.clock.today()
        end = today + dt.timedelta(days=days)
        if spec["date_type"] != "datetime":
            return today.isoformat(), end.isoformat()
        zone = self.clock.zone
        start = dt.datetime.combine(today, dt.time(), zone)
        return start.isoformat(), dt.datetime.combine(end, dt.time(), zone).isoformat()

    def tasks(self, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        """The user's tasks due today or before (overdue first, by due date)."""
        if spec is None:
            return None
        _, tomorrow = self._bounds(spec, 1)
        found = self._page(spec, [(f"{spec['date']}__lt", tomorrow)])
        if found is None:
            return None
        rows = self._rows(*found)
        for row in rows:
            row["overdue"] = self._before_today(row.pop("value"))
        return {"rows": rows, "url": f"/{spec['path']}/?{spec['user']}={self.user.id}"}

    def _before_today(self, value: Any) -> bool:
        """Whether a due date (or moment) is before today, in the app's time zone."""
        if isinstance(value, str):
            try:
                value = (
                    dt.datetime.fromisoformat(value)
                    if "T" in value
                    else dt.date.fromisoformat(value)
                )
            except ValueError:
                return False
        if isinstance(value, dt.datetime):
            return self.clock.local(value).date() < self.clock.today()
        return isinstance(value, dt.date) and value < self.clock.today()

    def meetings(self, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        """The user's meetings from now to ``days`` ahead."""
        if spec is None:
            return None
        _, end = self._bounds(spec, int(spec["days"]))
        if spec["date_type"] == "datetime":
            start = self.clock.now().isoformat()
        else:
            start = self.clock.today().isoformat()
        found = self._page(spec, [(f"{spec['date']}__gte", start), (f"{spec['date']}__lt", end)])
        if found is None:
            return None
        rows = self._rows(*found)
        for row in rows:
            row.pop("value")
        return {"rows": rows, "url": f"/{spec['path']}/?{spec['user']}={self.user.id}"}

    # --- recent records and KPIs -----------------------------------------------------------

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The records the user created or changed last that they may still read."""
        if limit <= 0:
            return []
        site = self.site
        by_name = {resource.name: (path, resource) for path, resource in site.pages.items()}
        entry = site.catalog.table(AuditEntryTable)
        with self.database.engine.connect() as connection:
            rows = connection.execute(
                sa.select(entry.entity, entry.record_id, entry.at)
                .where(entry.user_id == self.user.id, entry.action != "delete")
                .order_by(entry.id.desc())
                .limit(AUDIT_SCAN)
            ).all()
            latest: dict[tuple[str, int], Any] = {}
            for name, record_id, at in rows:
                if name in by_name and (name, record_id) not in latest:
                    latest[(name, record_id)] = at
            wanted: dict[str, list[int]] = {}
            for name, record_id in latest:
                wanted.setdefault(name, []).append(record_id)
            names: dict[str, dict[int, str]] = {}
            for name, ids in wanted.items():
                path, resource = by_name[name]
                if allowed(resource, self.user, "read"):
                    names[name] = links.names(connection, resource, self.user, ids)
        shown = []
        for (name, record_id), at in latest.items():
            text = names.get(name, {}).get(record_id)
            if text is None:
                continue  # out of the user's reach now (or deleted)
            path = by_name[name][0]
            shown.append(
                {
                    "url": f"/{path}/{record_id}",
                    "title": text or f"#{record_id}",
                    "kind": site.pick(site.entities[path]["label"], self.locale),
                    "when": site.formats.format_moment(at, self.locale) if at else "",
                }
            )
            if len(shown) >= limit:
                break
        return shown

    def kpis(self, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The spec's home KPIs of dashboards the user's role may open, as they see them."""
        analytics = self.site.analytics
        if analytics is None or not wanted:
            return []
        chosen = {}
        for kpi in wanted:
            board = analytics.dashboards.get(kpi["dashboard"])
            if board is None or kpi["name"] not in board.kpis:
                continue
            if not analytics.may_open(board.roles, self.user):
                continue
            chosen[f"{kpi['dashboard']}.{kpi['name']}"] = (kpi, board.kpis[kpi["name"]])
        if not chosen:
            return []
        results = analytics.compute_all(
            self.database, {key: aggregate for key, (_, aggregate) in chosen.items()}, self.user
        )
        shown = []
        for key, (kpi, _) in chosen.items():
            result = results[key]
            if not result.available:
                continue
            value = result.value
            shown.append(
                {
                    "label": self.site.pick(kpi["label"], self.locale),
                    "value": plain(value),
                    "text": short_text(self.site, value, kpi["format"], self.locale),
                    "full": number_text(self.site, value, kpi["format"], self.locale),
                    "url": f"/dashboards/{kpi['dashboard']}",
                }
            )
        return shown
