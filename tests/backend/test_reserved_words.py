"""Names SQL, the app, the list query and Python also use work end to end
(tests/backend/reserved_words.yaml).

Entities ``Order``, ``Group``, ``Select``, ``Job``, ``Session``...; fields ``order``, ``group``,
``user`` (a reference to User), ``select``, ``desc``, ``table``, ``where``; fields named like
list parameters (``limit``, ``sort``, ``q``, ``format``...), filtered with an explicit operator;
and ``Mail``'s fields named like Python keywords or names SQLAlchemy's models keep (``from``,
``class``, ``global``, ``metadata``, ``lambda``, ``pass``: model attributes ``from_`` ...) and
like the generated code's own words (``session``, ``query``), read and written by a process,
a record rule, a computed field and a dashboard, through the API, the web forms and lists, CSV
and XLSX. On SQLite and PostgreSQL, one app and database per kind (the app's command line:
tests/migrations/test_keyword_fields.py).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import Backend, make_backend
from tests.ui.test_pages import UI, csrf, fresh


@pytest.fixture(scope="module")
def words(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = make_backend("reserved_words", dialect, tmp_path_factory)
    yield from backend


@pytest.fixture(scope="module")
def filled(words: Backend) -> dict[str, Any]:
    words.reset()
    sales = words.as_user("sales")
    post = words.client.post

    def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = post(f"/api/{path}", json=body, headers=sales)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    group = made("groups", {"name": "G1", "select": True, "table": "t1"})
    other = made("groups", {"name": "G2", "select": False})
    tag = made("selects", {"name": "S", "check": 2})
    user_id = words.users["sales"].id
    orders = [
        made(
            "orders",
            {
                "order": n,
                "group": group["id"] if n % 2 else other["id"],
                "user": user_id,
                "select": ["all", "distinct", "where"][n % 3],
                "table": f"table {n}",
                "where": f"{n}.50",
                "limit": n * 10,
                "sort": f"sort{n}",
                "q": f"q{n}",
                "format": "pdf" if n % 2 else "csv",
                "count": n,
                "offset": n % 2 == 0,
                "cursor": "c",
                "fields": "f",
                "match": "m",
                "type": "t",
                "tags": [tag["id"]],
            },
        )
        for n in range(1, 6)
    ]
    mails = [
        made(
            "mails",
            {
                "from": sender,
                **({"class": kind} if kind else {}),
                "global": group["id"] if n % 2 else other["id"],
                "metadata": f"meta {n}",
                "session": f"{n}.25",
                "query": f"2024-0{n}-15",
                "lambda": [tag["id"]] if n < 3 else [],
            },
        )
        for n, (sender, kind) in enumerate(
            [("ann", "inbox"), ("bob", "sent"), ("SPAM bot", "inbox"), ("cy", None)], start=1
        )
    ]
    return {"group": group, "other": other, "tag": tag, "orders": orders, "mails": mails}


def _list(words: Backend, query: str) -> dict[str, Any]:
    response = words.client.get(f"/api/orders?{query}", headers=words.as_user("sales"))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _orders(words: Backend, query: str) -> list[int]:
    return [item["order"] for item in _list(words, query)["items"]]


def test_crud_with_reserved_words(words: Backend, filled: dict[str, Any]) -> None:
    first = filled["orders"][0]
    assert first["desc"] == "from table 1"  # the process step set it
    assert first["select"] == "distinct" and first["where"] == "1.50"
    sales = words.as_user("sales")
    patched = words.client.patch(
        f"/api/orders/{first['id']}",
        json={"version": first["version"], "order": 100, "table": "renamed"},
        headers=sales,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["order"] == 100
    group = words.client.get(f"/api/groups/{filled['group']['id']}", headers=sales).json()
    assert group["table"] == "renamed"  # the update step reached Group.table
    back = words.client.patch(
        f"/api/orders/{first['id']}",
        json={"version": patched.json()["version"], "order": 1},
        headers=sales,
    )
    assert back.status_code == 200, back.text
    for path in ("jobs", "sessions", "roles", "audits", "outboxes", "login_attempts"):
        body = {"email": "a@b.example"} if path == "login_attempts" else {"name": path}
        created = words.client.post(f"/api/{path}", json=body, headers=words.as_user("admin"))
        assert created.status_code == 201, (path, created.text)
        listed = words.client.get(f"/api/{path}", headers=words.as_user("admin")).json()
        assert listed["total"] == 1, path
    bad = words.client.post("/api/selects", json={"name": "x", "check": 0}, headers=sales)
    assert bad.status_code == 422 and "check" in bad.json()["error"]["fields"], bad.text


def test_filters_and_sort_on_reserved_words(words: Backend, filled: dict[str, Any]) -> None:
    assert _orders(words, "sort=-order") == [5, 4, 3, 2, 1]
    assert _orders(words, "sort=order&select=all") == [3]
    assert _orders(words, "sort=order&order__gte=4") == [4, 5]
    assert _orders(words, f"sort=order&group={filled['other']['id']}") == [2, 4]
    assert _orders(words, "sort=-where&where__lt=3") == [2, 1]
    assert _orders(words, "sort=table&q=table+3") == [3]
    assert _orders(words, "sort=order&table__contains=able 5") == [5]
    assert _orders(words, f"sort=order&tags={filled['tag']['id']}&limit=2") == [1, 2]


def test_fields_named_like_list_parameters_take_an_explicit_operator(
    words: Backend, filled: dict[str, Any]
) -> None:
    # the parameters keep their meaning ...
    assert _orders(words, "sort=-limit&limit=2") == [5, 4]
    assert _orders(words, "sort=order&offset=3") == [4, 5]
    assert _orders(words, "sort=order&q=sort2") == [2]  # searches sort, a search field
    # ... and the fields are filtered with an operator
    assert _orders(words, "sort=order&limit__eq=30") == [3]
    assert _orders(words, "sort=order&limit__gte=40") == [4, 5]
    assert _orders(words, "sort=order&sort__eq=sort4") == [4]
    assert _orders(words, "sort=order&sort__in=sort1,sort5") == [1, 5]
    assert _orders(words, "sort=order&q__contains=q3") == [3]
    assert _orders(words, "sort=order&format__eq=csv") == [2, 4]
    assert _orders(words, "sort=order&format__in=pdf") == [1, 3, 5]
    assert _orders(words, "sort=order&offset__eq=true") == [2, 4]
    assert _orders(words, "sort=order&count__lte=2") == [1, 2]
    assert _orders(words, "sort=order&cursor__eq=c&fields__eq=f")[:1] == [1]
    assert _orders(words, "sort=-count&count__ne=5&limit=1") == [4]
    assert _orders(words, "sort=order&match__eq=m&type__eq=t") == [1, 2, 3, 4, 5]
    for name in ("format", "count", "fields"):  # given bare, a reserved parameter name is refused
        response = words.client.get(f"/api/orders?{name}=1", headers=words.as_user("sales"))
        assert response.status_code == 400, response.text
        assert f"{name}__eq" in response.json()["error"]["message"], response.text
    # count= is the list parameter: how to count the total (the field keeps count__eq)
    counted = _list(words, "sort=order&count=exact&count__gte=4")
    assert [item["order"] for item in counted["items"]] == [4, 5]
    assert (counted["total"], counted["total_kind"]) == (2, "exact")
    assert _list(words, "count=none")["total"] is None
    response = words.client.get("/api/orders?count=2", headers=words.as_user("sales"))
    assert "must be exact, estimate or none" in response.json()["error"]["message"].lower()


def test_dashboard_over_reserved_words(words: Backend, filled: dict[str, Any]) -> None:
    response = words.client.get("/api/dashboards/orders", headers=words.as_user("sales"))
    assert response.status_code == 200, response.text
    text = response.text
    assert "order_sum" in text and "by_select" in text and "by_group" in text
    body = response.json()
    kpis = (
        {k["name"]: k for k in body["kpis"]} if isinstance(body.get("kpis"), list) else body["kpis"]
    )
    assert float(kpis["order_sum"]["value"]) == 1 + 3 + 4  # select in (all, distinct)


def test_openapi_documents_the_explicit_operators(words: Backend) -> None:
    document = words.client.get("/openapi.json").json()
    shared = document["components"]["parameters"]
    params = {
        (shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p)["name"]
        for p in document["paths"]["/api/orders"]["get"]["parameters"]
    }
    assert {"limit", "sort", "q", "format__eq", "limit__eq", "sort__eq", "q__eq"} <= params
    assert {"order", "select", "group", "table"} <= params


# --- fields named like Python keywords (Mail) -------------------------------------------------


def _mails(words: Backend, query: str, user: str = "sales") -> list[str]:
    response = words.client.get(f"/api/mails?{query}", headers=words.as_user(user))
    assert response.status_code == 200, response.text
    return [item["from"] for item in response.json()["items"]]


def test_keyword_fields_through_the_api(words: Backend, filled: dict[str, Any]) -> None:
    ann, bob, spam, cy = filled["mails"]
    assert (ann["from"], ann["class"], ann["global"], ann["metadata"]) == (
        "ann",
        "inbox",
        {"id": filled["group"]["id"], "display": "G1"},
        "meta 1",
    )
    assert (ann["session"], ann["query"]) == ("1.25", "2024-01-15")
    assert ann["lambda"] == [filled["tag"]["id"]]
    assert ann["pass"] == "ann (inbox)"  # computed from record.from and record.class
    assert cy["class"] == "inbox"  # the default, which the computed field reads too
    assert cy["pass"] == f"{cy['from']} (inbox)"
    # the before-create process read record.from and set class and metadata
    assert spam["class"] == "spam" and spam["metadata"] == "flagged: SPAM bot"
    sales = words.as_user("sales")
    patched = words.client.patch(
        f"/api/mails/{bob['id']}",
        json={"version": bob["version"], "from": "bobby", "metadata": None},
        headers=sales,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["from"] == "bobby" and patched.json()["pass"] == "bobby (sent)"
    # the update process copied record.from to the group of record.global
    group = words.client.get(f"/api/groups/{filled['other']['id']}", headers=sales).json()
    assert group["table"] == "bobby"
    read = words.client.get(f"/api/mails/{bob['id']}", headers=sales).json()
    assert read["from"] == "bobby" and "from_" not in read and "metadata" in read
    refused = words.client.patch(
        f"/api/mails/{bob['id']}", json={"from": "nobody"}, headers=sales
    )  # an after-update process's template reads record.from, record.class, record.metadata
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["message"] == "nobody (sent, None) may not write"
    bad = words.client.post("/api/mails", json={"class": "nope"}, headers=sales)
    assert bad.status_code == 422, bad.text
    assert {"from", "class"} <= set(bad.json()["error"]["fields"])
    made = words.client.post(
        "/api/classes", json={"name": "Class", "yield": ann["id"]}, headers=sales
    )  # an entity named like a keyword, a reference named so with the back-reference ``in``
    assert made.status_code == 201 and made.json()["yield"]["display"] == "ann", made.text
    ins = words.client.get(f"/api/mails/{ann['id']}/in", headers=sales)
    assert [c["name"] for c in ins.json()["items"]] == ["Class"], ins.text
    back = words.client.get(f"/api/groups/{filled['group']['id']}/import", headers=sales)
    assert back.status_code == 200, back.text
    assert sorted(m["from"] for m in back.json()["items"]) == ["SPAM bot", "ann"]
    reset = words.client.patch(
        f"/api/mails/{bob['id']}",
        json={"version": patched.json()["version"], "from": "bob", "metadata": "meta 2"},
        headers=sales,
    )
    assert reset.status_code == 200, reset.text


def test_keyword_fields_filter_sort_and_search(words: Backend, filled: dict[str, Any]) -> None:
    assert _mails(words, "sort=from") == ["SPAM bot", "ann", "bob", "cy"]
    assert _mails(words, "sort=-from") == ["cy", "bob", "ann", "SPAM bot"]
    assert _mails(words, "from=ann") == ["ann"]
    assert _mails(words, "sort=from&from__in=ann,cy") == ["ann", "cy"]
    assert _mails(words, "sort=from&class=inbox") == ["ann", "cy"]
    assert _mails(words, "sort=from&class__ne=inbox") == ["SPAM bot", "bob"]
    assert _mails(words, f"sort=from&global={filled['group']['id']}") == ["SPAM bot", "ann"]
    assert _mails(words, f"sort=from&lambda={filled['tag']['id']}") == ["ann", "bob"]
    assert _mails(words, "sort=-session&session__gte=2") == ["cy", "SPAM bot", "bob"]
    assert _mails(words, "sort=query&query__lt=2024-03-01") == ["ann", "bob"]
    assert _mails(words, "sort=from&metadata__isnull=false&pass__contains=inbox") == ["ann", "cy"]
    assert _mails(words, "q=flagged") == ["SPAM bot"]  # metadata is searched
    assert _mails(words, "sort=from&q=bo") == ["SPAM bot", "bob"]
    assert _mails(words, "sort=-global,from")[:1] in (["SPAM bot"], ["bob"])
    # the manager's rule reads record.class and record.from: no spam
    assert _mails(words, "sort=from", user="manager") == ["ann", "bob", "cy"]
    # a reverse filter through the back-reference named ``import``
    groups = words.client.get("/api/groups?import__from=cy", headers=words.as_user("sales"))
    assert groups.status_code == 200, groups.text
    assert [g["id"] for g in groups.json()["items"]] == [filled["other"]["id"]]


def test_keyword_fields_in_openapi_and_dashboards(words: Backend, filled: dict[str, Any]) -> None:
    document = words.client.get("/openapi.json").json()
    shared = document["components"]["parameters"]
    params = {
        (shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p)["name"]
        for p in document["paths"]["/api/mails"]["get"]["parameters"]
    }
    assert {"from", "class", "global", "metadata", "session", "query", "lambda"} <= params
    schemas = document["components"]["schemas"]
    mail = next(
        schema
        for name, schema in schemas.items()
        if name.startswith("Mail") and "pass" in schema.get("properties", {})
    )
    assert {"from", "class", "global", "metadata", "session", "query", "lambda"} <= set(
        mail["properties"]
    )
    assert not any(name.endswith("_") for name in mail["properties"])
    response = words.client.get("/api/dashboards/orders", headers=words.as_user("sales"))
    assert response.status_code == 200, response.text
    assert "mail_sessions" in response.text and "spam" in response.text


@pytest.fixture(scope="module")
def site(words: Backend, filled: dict[str, Any]) -> Iterator[UI]:
    """The web UI of the same app and database, with the real sign-in (``sales``)."""
    gen = words.gen
    settings = gen.app.startup_settings(app_settings_env())
    app = gen.app.create_app(settings, database=words.database)
    with TestClient(app, raise_server_exceptions=True) as client:
        state = UI(gen, words.database, client)
        state.user("web@example.com", "sales")
        fresh(state)
        state.login("web@example.com")
        yield state


def test_keyword_fields_in_the_web_form_and_list(site: UI, filled: dict[str, Any]) -> None:
    form = site.client.get("/mails/new")
    assert form.status_code == 200, form.text
    assert (
        'name="from"' in form.text and 'name="class"' in form.text and 'name="global"' in form.text
    )
    created = site.client.post(
        "/mails/new",
        data={
            "csrf_token": csrf(form.text),
            "from": "web",
            "class": "sent",
            "global": str(filled["group"]["id"]),
            "metadata": "from the form",
            "session": "7.50",
            "query": "2024-07-01",
            "lambda": str(filled["tag"]["id"]),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    detail = site.client.get(created.headers["location"])
    assert (
        detail.status_code == 200 and "from the form" in detail.text and "web (sent)" in detail.text
    )
    edit_url = created.headers["location"].rstrip("/") + "/edit"
    edit = site.client.get(edit_url)
    assert edit.status_code == 200 and 'value="web"' in edit.text, edit.text
    version = re.search(r'name="version"[^>]*value="(\d+)"', edit.text)
    assert version, edit.text
    saved = site.client.post(
        edit_url,
        data={
            "csrf_token": csrf(edit.text),
            "version": version.group(1),
            "from": "web2",
            "class": "inbox",
            "global": str(filled["group"]["id"]),
            "metadata": "edited",
            "session": "8",
            "query": "2024-07-02",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    listing = site.client.get("/mails/?sort=-from&class=inbox")
    assert listing.status_code == 200
    assert "web2" in listing.text and "ann" in listing.text and "SPAM bot" not in listing.text
    assert "G1" in listing.text  # the link to the group


def test_export_and_import_of_reserved_and_keyword_names(site: UI, words: Backend) -> None:
    exported = site.client.get("/mails/export.csv?sort=from&from__in=ann,bob")
    assert exported.status_code == 200, exported.text
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:]] == ["ann", "bob"] and "From" in rows[0]
    book = site.client.get("/mails/export.xlsx?sort=from&from=ann")
    assert book.status_code == 200, book.text
    sheet = list(
        openpyxl.load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True)
    )
    header = [str(h) for h in sheet[0]]
    assert sheet[1][header.index("From")] == "ann" and sheet[1][header.index("Class")] == "Inbox"
    orders = site.client.get("/orders/export.csv?sort=order&order__lte=2&format__eq=pdf")
    assert orders.status_code == 200, orders.text
    rows = list(csv.reader(io.StringIO(orders.content.decode("utf-8-sig"))))
    assert [r[rows[0].index("Order")] for r in rows[1:]] == ["1"]
    imports = {
        "mails": "from,class,metadata,session,query\ncsv one,sent,imported,3.5,2024-05-05\n",
        "orders": "order,select,table,limit,format,sort\n77,where,imported,5,csv,s\n",
    }
    for path, data in imports.items():
        for name, content in ((f"{path}.csv", data.encode()), (f"{path}.xlsx", _xlsx(data))):
            _import(site, path, name, content, data.split("\n")[0].split(","))
    sales = words.as_user("sales")
    found = words.client.get("/api/mails?from=csv+one", headers=sales).json()["items"]
    assert [(m["class"], m["metadata"], m["session"]) for m in found] == [
        ("sent", "imported", "3.50")
    ] * 2
    found = words.client.get("/api/orders?order=77", headers=sales).json()["items"]
    assert [(o["select"], o["table"], o["limit"], o["format"], o["desc"]) for o in found] == [
        ("where", "imported", 5, "csv", "from imported")  # the process ran too
    ] * 2


def _import(site: UI, path: str, name: str, content: bytes, columns: list[str]) -> None:
    """Import one file through the web UI, each column to the field of its name."""
    page = site.client.get(f"/{path}/import")
    assert page.status_code == 200, page.text
    upload = site.client.post(
        f"/{path}/import",
        data={"csrf_token": csrf(page.text)},
        files={"file": (name, content, "application/octet-stream")},
        follow_redirects=False,
    )
    assert upload.status_code == 303, upload.text
    location = upload.headers["location"]
    mapping = {f"c{i}": column for i, column in enumerate(columns)}
    preview = site.client.get(f"{location}/preview", params=mapping)
    assert preview.status_code == 200, preview.text
    ran = site.client.post(
        f"{location}/run",
        data={"csrf_token": csrf(preview.text), **mapping},
        follow_redirects=False,
    )
    assert ran.status_code == 303, ran.text
    result = site.client.get(f"{location}/result")
    assert 'id="import-created">1<' in result.text, result.text


def _xlsx(text: str) -> bytes:
    book = openpyxl.Workbook()
    for row in csv.reader(io.StringIO(text)):
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
