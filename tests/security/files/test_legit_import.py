"""A legitimate 50,000-row XLSX (written by openpyxl, as Excel would: dates in a date format,
booleans, numbers) imports end to end over real HTTP — upload, mapping, preview, import,
result — within the default limits.

The 50,000-row file is uploaded and previewed (every limit applies to it), then a 5,000-row
file of the same shape is imported through the same steps: the rows' writes take about 0.6 ms a
row on SQLite and 2.7 ms on PostgreSQL's loopback (two statements a row), the same per row for
5,000 rows as for 50,000, so the 50,000 imported rows are measured by ``benchmarks/imports.py``
(``--rows 50000``) instead of in every CI run.

The rows are imported by the request itself (``IMPORT_INLINE_ROWS`` raised to the file's size:
the same code the worker runs, whose own test is ``tests/worker/test_imports.py``), so the
import is timed here. The time of each step is printed (``-s``) and recorded in the test's
``user_properties``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from collections.abc import Iterator

import openpyxl
import pytest

from tests.security.crm import KINDS, Crm, start_crm
from tests.security.files.uploads import MiB, browser, csrf, measured, page_error, upload

ROWS = 50_000
HEADERS = ["Full name", "Email", "Phone", "Discount", "Birthday", "Key contact"]


def workbook(rows: int) -> bytes:
    """A workbook of ``rows`` contacts (50,000: about 1.6 MB; 16 MB of XML once unpacked)."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Contacts")
    sheet.append(HEADERS)
    for i in range(rows):
        sheet.append(
            [
                f"Legit Person {i}",
                f"legit{i}@legit.example",
                f"+7 900 {i:07d}",
                i % 50,
                dt.date(1960, 1, 1) + dt.timedelta(days=i % 15_000),
                i % 3 == 0,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture(scope="module", params=KINDS)
def crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    """The reference CRM importing up to ``ROWS`` rows in the request, not in a worker."""
    with start_crm(
        request.param, tmp_path_factory, env={"IMPORT_INLINE_ROWS": str(ROWS)}
    ) as running:
        yield running


@pytest.fixture(scope="module")
def legit() -> bytes:
    return workbook(ROWS)


IMPORTED = {"sqlite": 5_000, "postgresql": 5_000}


def number(page: str, what: str) -> int:
    found = re.search(rf'id="import-{what}">(\d+)<', page)
    assert found, page[-3000:]
    return int(found.group(1))


def test_a_50000_row_xlsx_imports_end_to_end(
    crm: Crm, legit: bytes, request: pytest.FixtureRequest
) -> None:
    with browser(crm) as client:
        client.timeout = 1800
        times: dict[str, float] = {}
        with measured(crm) as cost:
            answer = upload(client, "contacts", "contacts.xlsx", legit)
        assert answer.status_code == 303, page_error(answer.text)
        times["upload"] = cost.seconds
        location = answer.headers["location"]
        mapping_page = client.get(location)
        chosen = r'<select id="(c\d+)" name="\1">.*?<option value="([^"]*)" selected>'
        mapping = dict(re.findall(chosen, mapping_page.text, re.DOTALL))
        assert mapping == {
            "c0": "full_name",
            "c1": "email",
            "c2": "phone",
            "c3": "discount",
            "c4": "birthday",
            "c5": "is_key",
        }
        began = time.monotonic()
        preview = client.get(f"{location}/preview", params=mapping)
        times["preview"] = time.monotonic() - began
        assert preview.status_code == 200
        assert number(preview.text, "total") == ROWS and number(preview.text, "bad") == 0
        imported = IMPORTED[crm.kind]
        if imported != ROWS:  # the same steps with a smaller file of the same shape
            answer = upload(client, "contacts", "contacts.xlsx", workbook(imported))
            assert answer.status_code == 303, page_error(answer.text)
            location = answer.headers["location"]
            preview = client.get(f"{location}/preview", params=mapping)
            assert number(preview.text, "total") == imported
        began = time.monotonic()
        done = client.post(
            f"{location}/run",
            data={"csrf_token": csrf(preview.text), **mapping},
            follow_redirects=True,
        )
        times["import"] = time.monotonic() - began
        assert done.status_code == 200, done.text[-2000:]
        assert number(done.text, "created") == imported and number(done.text, "failed") == 0
        rows = crm.sql(
            "SELECT count(*), min(birthday), max(discount) FROM contacts "
            "WHERE email LIKE '%@legit.example'"
        )
        assert rows[0][0] == imported
        assert str(rows[0][1]).startswith("1960-01-01")
        request.node.user_properties.append(("seconds", times))
        request.node.user_properties.append(("upload_peak_mib", cost.peak_growth / MiB))
        print(
            f"\n{crm.kind}: {imported} rows imported, {times}, upload peak +{cost.peak_growth / MiB:.0f} MiB"
        )
