"""Stored files (issue 14 item 5) over HTTP on both databases, in the reference CRM.

A JSON client uploads first (``POST /api/files``) and puts the answered id in a ``file`` or
``image`` field; records of entities with ``attachments: true`` take files at
``/api/<plural>/{id}/attachments``. What a file is comes from its bytes: a program renamed
``photo.png`` is refused as an image; a file over its field's ``max_size_mb`` gets 413 without
the server reading all of it; a download is byte-identical, ``attachment`` with ``nosniff``; a
file follows its record's read rule (another seller's attachment is 404).
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import httpx2 as httpx
import pytest

from tests.security.crm import Crm

PDF = b"%PDF-1.4\n" + os.urandom(300_000) + b"\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + os.urandom(5000)


def png(width: int = 640, height: int = 480) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


def upload(
    client: httpx.Client, data: bytes, name: str, field: str | None = None
) -> httpx.Response:
    params = {"field": field} if field else {}
    return client.post("/api/files", params=params, files={"file": (name, data)})


def new_deal(client: httpx.Client, **values: Any) -> dict[str, Any]:
    response = client.post("/api/deals", json={"name": "Files deal", **values})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_uploaded_file_downloads_byte_identical(crm: Crm) -> None:
    with crm.client(crm.token("sales")) as client:
        sent = upload(client, PDF, 'Договор №1 "final".pdf', "deals.contract")
        assert sent.status_code == 201, sent.text
        found = sent.json()
        assert found["content_type"] == "application/pdf" and found["size"] == len(PDF)
        assert found["sha256"] == hashlib.sha256(PDF).hexdigest()
        deal = new_deal(client, contract=found["id"])
        assert deal["contract"] == found["id"]
        got = client.get(f"/api/files/{found['id']}")
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["x-content-type-options"] == "nosniff"
        disposition = got.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="')
        assert "filename*=UTF-8''%D0%94%D0%BE%D0%B3" in disposition and '\\"' not in disposition
        # the same id cannot be given to a second record
        other = client.post("/api/deals", json={"name": "Thief", "contract": found["id"]})
        assert other.status_code == 422 and "contract" in other.json()["error"]["fields"]
    with crm.client(crm.token("sales2")) as client:  # not the record's reader
        assert client.get(f"/api/files/{found['id']}").status_code == 404
    with crm.client(crm.token("manager")) as client:
        assert client.get(f"/api/files/{found['id']}").content == PDF


def test_a_web_address_is_kept_as_an_external_link(crm: Crm) -> None:
    with crm.client(crm.token("sales")) as client:
        deal = new_deal(client, contract="https://docs.example/contract.pdf")
        assert deal["contract"] == "https://docs.example/contract.pdf"
        bad = client.post("/api/deals", json={"name": "x", "contract": "javascript:alert(1)"})
        assert bad.status_code == 422


def test_a_renamed_executable_is_refused_as_an_image(crm: Crm) -> None:
    with crm.client(crm.token("sales")) as client:
        refused = upload(client, EXE, "photo.png", "contacts.photo")
        assert refused.status_code == 415, refused.text
        assert "executable" in refused.json()["error"]["message"]
        # uploaded for no field, then put in the image field: refused there
        loose = upload(client, PDF, "photo.png")
        assert loose.status_code == 201
        contact = client.post(
            "/api/contacts", json={"full_name": "Pic Test", "photo": loose.json()["id"]}
        )
        assert contact.status_code == 422, contact.text
        assert "PDF" in contact.json()["error"]["fields"]["photo"]
        # a program is no attachment either
        deal = new_deal(client)
        sent = client.post(
            f"/api/deals/{deal['id']}/attachments", files={"file": ("notes.txt", EXE)}
        )
        assert sent.status_code == 415


def test_an_image_gets_a_thumbnail(crm: Crm) -> None:
    with crm.client(crm.token("sales")) as client:
        sent = upload(client, png(), "me.png", "contacts.photo")
        assert sent.status_code == 201, sent.text
        photo = sent.json()
        contact = client.post("/api/contacts", json={"full_name": "Pic", "photo": photo["id"]})
        assert contact.status_code == 201, contact.text
        thumb = client.get(photo["thumbnail"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
        assert thumb.headers["content-disposition"].startswith("inline")
        from PIL import Image

        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 256
        preview = client.get(f"/api/files/{photo['id']}", params={"inline": "1"})
        assert preview.headers["content-disposition"].startswith("inline")


def test_a_file_over_the_limit_gets_413(crm: Crm) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024)  # photo: max_size_mb 5
    with crm.client(crm.token("sales")) as client:
        refused = upload(client, big, "big.png", "contacts.photo")
        assert refused.status_code == 413, refused.text

        def chunks() -> Any:  # no Content-Length: cut off at the limit while streaming
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            for _ in range(8):
                yield b"\0" * (1024 * 1024)
            yield b"\r\n--b--\r\n"

        streamed = client.post(
            "/api/files",
            params={"field": "contacts.photo"},
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413


def test_another_sellers_attachment_is_404(crm: Crm) -> None:
    with crm.client(crm.token("sales")) as client:
        deal = new_deal(client)
        base = f"/api/deals/{deal['id']}/attachments"
        sent = client.post(base, files={"file": ("offer.pdf", PDF)})
        assert sent.status_code == 201, sent.text
        attached = sent.json()
        assert attached["url"] == f"{base}/{attached['id']}"
        [listed] = client.get(base).json()["items"]
        assert listed["id"] == attached["id"] and listed["name"] == "offer.pdf"
        assert client.get(attached["url"]).content == PDF
    with crm.client(crm.token("sales2")) as client:
        assert client.get(attached["url"]).status_code == 404
        assert client.get(base).status_code == 404
        assert client.get(f"/api/files/{attached['id']}").status_code == 404
        assert client.delete(attached["url"]).status_code == 404
        stolen = client.post(base, files={"file": ("x.pdf", PDF)})
        assert stolen.status_code == 404
    with crm.client(crm.token("support")) as client:  # reads the deal, may not change it
        assert client.get(attached["url"]).content == PDF
        assert client.delete(attached["url"]).status_code == 403
    with crm.client(crm.token("sales")) as client:
        assert client.delete(attached["url"]).status_code == 204
        assert client.get(base).json()["items"] == []
        assert client.get(attached["url"]).status_code == 404


@pytest.mark.parametrize("path", ["/api/files/not-an-id", "/api/files/AAAAAAAAAAAAAAAAAAAAAA"])
def test_unknown_files_are_404(crm: Crm, path: str) -> None:
    with crm.client(crm.token("admin")) as client:
        assert client.get(path).status_code == 404
