"""Processes of a small inline spec: hostile texts, rollback, bulk steps, endpoints, actions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.backend.conftest import Backend


def _count(b: Backend, model: Any) -> int:
    with b.database.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _note(b: Backend, **values: Any) -> dict[str, Any]:
    response = b.client.post(
        "/api/notes", json={"title": "n", **values}, headers=b.as_user("staff")
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_hostile_message_is_rendered_not_run(notes: Backend) -> None:
    before = _count(notes, notes.gen.models.Note)
    body = "{{ 7 * 7 }} {% if true %}x{% endif %} \"'; import os"
    response = notes.client.post(
        "/api/notes", json={"title": "boom", "body": body}, headers=notes.as_user("staff")
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "process_error"
    assert error["message"] == f'It\'s "bad" {body} {{{{ 7 * 7 }}}}\nline 2 \'\'\'""" \\'
    assert _count(notes, notes.gen.models.Note) == before  # nothing was written


def test_after_update_writes_and_outbox_commit_together(notes: Backend) -> None:
    models = notes.gen.models
    note = _note(notes)
    response = notes.client.patch(
        f"/api/notes/{note['id']}", json={"status": "open"}, headers=notes.as_user("staff")
    )
    assert response.status_code == 200, response.text
    with notes.database.engine.connect() as connection:
        logs = connection.execute(sa.select(models.Log.text, models.Log.note_id)).all()
        outbox = connection.execute(
            sa.select(models.CrmOutboxMessage.kind, models.CrmOutboxMessage.payload)
        ).all()
    assert logs == [("draft -> open", note["id"])]
    assert [(k, p["text"], p["integration"]) for k, p in outbox] == [
        ("telegram", "Note n: draft -> open", "bot")
    ]
    # fields: [status] -> a change of another field runs nothing
    response = notes.client.patch(
        f"/api/notes/{note['id']}", json={"body": "x"}, headers=notes.as_user("staff")
    )
    assert response.status_code == 200
    assert _count(notes, models.Log) == 1 and _count(notes, models.CrmOutboxMessage) == 1


def test_error_in_an_after_trigger_rolls_everything_back(notes: Backend) -> None:
    models = notes.gen.models
    note = _note(notes, body="fail")
    response = notes.client.patch(
        f"/api/notes/{note['id']}", json={"status": "closed"}, headers=notes.as_user("staff")
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "Rolled back"
    assert _count(notes, models.Log) == 0
    assert _count(notes, models.CrmOutboxMessage) == 0  # the telegram row went with the rollback
    stored = notes.client.get(f"/api/notes/{note['id']}", headers=notes.as_user("staff")).json()
    assert stored["status"] == "draft" and stored["version"] == note["version"]


def test_endpoint_query_count_aggregate_update_delete(notes: Backend) -> None:
    models = notes.gen.models
    a = _note(notes, title="pa", hits=5)
    b = _note(notes, title="pb", hits=1)
    c = _note(notes, title="pc")
    notes.client.patch(
        f"/api/notes/{c['id']}", json={"status": "closed"}, headers=notes.as_user("staff")
    )
    other = _note(notes, title="zz", hits=9)
    url = "/api/notes/stats"
    assert notes.client.post(url, json={"prefix": "p"}).status_code == 401
    assert notes.client.post(url, json={}, headers=notes.as_user("staff")).status_code == 422
    bad = notes.client.post(url, json={"prefix": "p", "top": 99}, headers=notes.as_user("staff"))
    assert bad.status_code == 422 and "top" in bad.json()["error"]["fields"]
    assert (
        notes.client.post(
            url, json={"prefix": "p", "x": 1}, headers=notes.as_user("staff")
        ).status_code
        == 422
    )
    response = notes.client.post(url, json={"prefix": "p"}, headers=notes.as_user("staff"))
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True}
    staff = notes.users["staff"].id
    with notes.database.engine.connect() as connection:
        rows = dict(connection.execute(sa.select(models.Note.title, models.Note.hits)).all())
        seen = set(
            connection.execute(
                sa.select(models.Note.seen_by_id).where(models.Note.title.in_(["pa", "pb"]))
            ).scalars()
        )
        texts = list(
            connection.execute(
                sa.select(models.Log.text).where(models.Log.text.like("%notes%"))
            ).scalars()
        )
    assert rows == {"pa": 6, "pb": 2, "zz": 9}  # pc (closed) deleted; zz untouched
    assert seen == {staff}
    assert texts == ["3 notes, 6 hits {'closed': 1, 'draft': 3}"]
    assert other["id"] and a["id"] and b["id"]


def test_action_endpoint(notes: Backend) -> None:
    note = _note(notes, hits=1)
    url = f"/api/notes/{note['id']}/actions/bump"
    assert notes.client.post(url).status_code == 401
    assert (
        notes.client.post(
            "/api/notes/999999/actions/bump", headers=notes.as_user("staff")
        ).status_code
        == 404
    )
    response = notes.client.post(url, headers=notes.as_user("staff"))
    assert response.status_code == 200, response.text
    assert response.json()["record"]["hits"] == 101
    assert (
        notes.client.get(f"/api/notes/{note['id']}", headers=notes.as_user("staff")).json()["hits"]
        == 101
    )


def test_openapi_lists_endpoints_and_actions(notes: Backend) -> None:
    document = notes.client.get("/openapi.json").json()
    stats = document["paths"]["/api/notes/stats"]["post"]
    assert stats["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatsInput"
    }
    assert document["components"]["schemas"]["StatsInput"]["required"] == ["prefix"]
    assert "post" in document["paths"]["/api/notes/{id}/actions/bump"]
