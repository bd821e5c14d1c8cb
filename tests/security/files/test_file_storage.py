"""Where stored files live (issue 14 item 5): backups carry them, and an S3-compatible store
(moto's server mode on loopback, a real HTTP S3 API) takes them instead of the local folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.crm import Crm, app_cli, crm_out, empty_database, free_port, start_crm
from tests.security.files.test_attachments import PDF, png, upload


def test_backup_and_restore_carry_the_files(
    crm: Crm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from crmgen_runtime.storage import LocalStorage

    picture = png(300, 200)
    with crm.client(crm.token("sales")) as client:
        photo = upload(client, picture, "me.png", "contacts.photo").json()
        made = client.post("/api/contacts", json={"full_name": "Backed Up", "photo": photo["id"]})
        assert made.status_code == 201, made.text
        deal = client.post("/api/deals", json={"name": "Backed up deal"}).json()
        attached = client.post(
            f"/api/deals/{deal['id']}/attachments", files={"file": ("a.pdf", PDF)}
        ).json()
    folder = tmp_path_factory.mktemp("backup")
    out = crm_out(tmp_path_factory)
    served = str(crm.log_path.parent / "files")  # the server's FILES_DIR: ./files
    backup = folder / "crm.jsonl.gz"
    said = app_cli(out, crm.database_url, folder, "backup", str(backup), FILES_DIR=served)
    assert "wrote" in said
    restored = folder / "restored-files"
    with empty_database(crm.kind, folder, "crmgen_files_restore") as url:
        app_cli(out, url, folder, "restore", str(backup), FILES_DIR=str(restored))
    storage = LocalStorage(restored)
    assert b"".join(storage.chunks(attached["id"])) == PDF
    assert b"".join(storage.chunks(photo["id"])) == picture
    assert storage.exists(photo["id"] + ".thumb")


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """moto's S3 server on a loopback port, with the bucket ``crm-files``."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket="crm-files")
        yield url
    finally:
        server.stop()


def test_files_go_to_an_s3_compatible_store(
    s3: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import boto3

    env = {
        "FILES_S3_BUCKET": "crm-files",
        "FILES_S3_ENDPOINT_URL": s3,
        "FILES_S3_PREFIX": "crm",
        "FILES_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    with start_crm("sqlite", tmp_path_factory, env) as crm:
        with crm.client(crm.token("sales")) as client:
            sent = upload(client, PDF, "contract.pdf", "deals.contract")
            assert sent.status_code == 201, sent.text
            file_id = sent.json()["id"]
            made = client.post("/api/deals", json={"name": "S3 deal", "contract": file_id})
            assert made.status_code == 201, made.text
            got = client.get(f"/api/files/{file_id}")
            assert got.status_code == 200 and got.content == PDF
        assert not (crm.log_path.parent / "files").exists()  # nothing in the local folder
    client = boto3.client(
        "s3",
        endpoint_url=s3,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stored = client.get_object(Bucket="crm-files", Key=f"crm/{file_id}")["Body"].read()
    assert stored == PDF
    assert os.environ.get("FILES_S3_BUCKET") is None  # the test's own environment untouched


def test_a_missing_folder_is_made(tmp_path: Path) -> None:
    from crmgen_runtime.storage import LocalStorage

    storage = LocalStorage(tmp_path / "a" / "b")
    import io

    storage.put("abcdefghijklmnopqrstuv", io.BytesIO(b"x"))
    assert b"".join(storage.chunks("abcdefghijklmnopqrstuv")) == b"x"
    storage.delete("abcdefghijklmnopqrstuv")
    storage.delete("abcdefghijklmnopqrstuv")  # gone already: no error
    assert not storage.exists("abcdefghijklmnopqrstuv")


def test_a_won_deals_invoice_gets_its_pdf_saved_by_the_worker(
    crm: Crm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The reference CRM's deal_won process: ``attach_document`` queues the invoice's PDF, the
    worker makes it after the commit and puts it in the invoice's ``pdf`` field (once)."""
    with crm.client(crm.token("sales")) as client:
        deal = client.post("/api/deals", json={"name": "Won with a PDF", "amount": "1500"}).json()
        client.patch(f"/api/deals/{deal['id']}", json={"stage": "proposal"})
    with crm.client(crm.token("manager")) as client:  # the pipeline: managers win deals
        won = client.patch(f"/api/deals/{deal['id']}", json={"stage": "won"})
        assert won.status_code == 200, won.text
        [invoice] = client.get("/api/invoices", params={"deal": deal["id"]}).json()["items"]
        assert invoice["pdf"] is None  # made after the commit, by the worker
    queued = crm.sql("SELECT payload FROM crm_outbox WHERE kind = 'document'")
    assert any(str(invoice["id"]) in str(p) for (p,) in queued)
    folder = tmp_path_factory.mktemp("worker")
    served = str(crm.log_path.parent / "files")
    args = ("worker", "--once", "--no-scheduler", "--batch", "100")
    for _ in range(2):  # delivered twice (a retry): saved once
        out = crm_out(tmp_path_factory)
        app_cli(out, crm.database_url, folder, *args, FILES_DIR=served, PUBLIC_URL=crm.base)
    with crm.client(crm.token("sales")) as client:
        invoice = client.get(f"/api/invoices/{invoice['id']}").json()
        assert invoice["pdf"], invoice
        got = client.get(f"/api/files/{invoice['pdf']}")
        assert got.status_code == 200 and got.content.startswith(b"%PDF")
        assert got.headers["content-type"] == "application/pdf"
        assert f"invoice-{invoice['number']}.pdf" in got.headers["content-disposition"]
    rows = crm.sql(
        "SELECT count(*) FROM crm_files WHERE entity = 'Invoice' AND record_id = :id",
        id=invoice["id"],
    )
    assert rows[0][0] == 1
