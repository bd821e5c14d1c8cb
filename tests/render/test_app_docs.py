"""The generated app's ``docs/``: the ER diagram (Mermaid and SVG), the entity reference, the
access matrix and the processes in words, for the reference CRM, every relation kind and the
hostile spec; escaped, well-formed and the same bytes on every run."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crmgen import load
from crmgen.generate import generate
from crmgen.render import app_docs, er_diagram
from crmgen.render.environment import make_environment
from crmgen.render.errors import GenerateError
from crmgen.render.markdown import code, md, xml_text
from crmgen.render.plan import build_plan
from crmgen.render.planned import produce
from tests.generated_apps import SPECS, GeneratedApps

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
DOCS = ("README.md", "data-model.md", "entities.md", "access.md", "processes.md")


@pytest.fixture(scope="module")
def crm(generated_apps: GeneratedApps) -> Path:
    return generated_apps("crm").out / "docs"


@pytest.fixture(scope="module")
def hostile(generated_apps: GeneratedApps) -> Path:
    return generated_apps("hostile").out / "docs"


def read(folder: Path, name: str) -> str:
    return (folder / name).read_text(encoding="utf-8")


def cells(row: str) -> list[str]:
    """A GitHub table row's cells: split at each ``|`` not escaped by a backslash."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def without_code(text: str) -> str:
    """Markdown with its code spans and fenced blocks removed (what is left is prose)."""
    text = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.DOTALL)
    return re.sub(r"(`+)(.+?)(?<!`)\1(?!`)", "", text)


# -- the reference CRM -------------------------------------------------------------------------


def test_every_doc_is_written_and_linked(crm: Path) -> None:
    assert sorted(p.name for p in crm.iterdir()) == sorted([*DOCS, "data-model.svg"])
    index = read(crm, "README.md")
    for name in [*DOCS[1:], "data-model.svg"]:
        assert f"]({name})" in index
    assert "](docs/README.md)" in (crm.parent / "README.md").read_text(encoding="utf-8")


def test_the_entity_reference_holds_every_field_value_relation_and_rule(crm: Path) -> None:
    spec = load(SPECS["crm"])
    text = read(crm, "entities.md")
    for entity in spec.entities:
        assert f"\n## {entity.name}\n" in text
        for f in entity.fields:
            assert f"| `{f.name}` | `{f.type}` |" in text
    # enum values with their labels in every locale, defaults, rollups, relations both ways
    assert "| `retail` | Retail | Розница | Ritel | Maloprodaja | 零售 |" in text
    assert "| `owner` | `ref` |  | `= user` |" in text
    assert (
        "kept by the app: the sum of `amount` of the `Deal` records whose `company` is this "
        "record (`deals`) where `stage` is `'won'`"
    ) in text
    assert "- `deals`: the `Deal` records whose `company` is this one" in text
    assert "- `subsidiaries`: the `Company` records whose `parent` is this one" in text
    assert "- `portal_contact`: the `Contact` record whose `portal_user` is this one" in text
    # access per role with hidden and read-only fields, the workflow, the processes started
    assert (
        "| `support` | all records | all records | no | records where `not record.is_key` | no "
        "| `birthday`, `discount`, `passport_number`, `private_note` "
        "| `full_name`, `company`, `owner`, `is_key` |"
    ) in text
    assert (
        "- to `won` from `proposal`, `negotiation`, by `manager`, with `amount` filled, when "
        "afterwards `amount` is more than `0`"
    ) in text
    assert "- [`company_enrichment`](processes.md#company_enrichment): When a record of" in text


def test_the_access_matrix_has_every_role_entity_and_action(crm: Path) -> None:
    spec = load(SPECS["crm"])
    text = read(crm, "access.md")
    sections = text.split("\n## ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == [md(r.name) for r in spec.roles]
    for section in sections:
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        assert [cells(r)[0].strip() for r in rows] == [f"`{e.name}`" for e in spec.entities]
        assert all(len(cells(r)) == 6 for r in rows)
    sales = sections[[r.name for r in spec.roles].index("sales")]
    assert (
        "| `Company` | own records (`owner` is the user) | own records (`owner` is the user) | yes "
        "| own records (`owner` is the user) | own records (`owner` is the user) |"
    ) in sales
    assert "| `Interaction` |" in sales and "| not offered | not offered |" in sales
    assert "A superuser: everything on every entity." in sections[0]


def test_each_process_is_described_in_words(crm: Path) -> None:
    spec = load(SPECS["crm"])
    text = read(crm, "processes.md")
    assert [s.split("\n", 1)[0] for s in text.split("\n## ")[1:]] == [
        md(p.name) for p in spec.processes
    ]
    assert text.count("**Trigger:**") == len(spec.processes)
    assert (
        "**Trigger:** When a record of `Task` is updated, before the change is saved (in its "
        "transaction: an error rejects it), if one of `status` changed."
    ) in text
    assert "When `POST /api/deals/{id}/win` is called (by `manager`)" in text
    assert "presses the button «Проиграна» on a record of `Deal`" in text
    assert "On the schedule `0 8 * * *` (cron" in text
    assert "When the inbound webhook `telephony` receives an event" in text
    assert (
        "1. If `record.assignee != user and not has_role('manager')`:\n\n   Then:\n\n"
        "   1. Stop and reject with `Only a manager may give tasks to other employees` (HTTP 403)."
    ) in text
    assert "Assign `assignee` to the least busy user among those where" in text
    assert "   1. Notify `= task.assignee` in the app:" in text  # inside a for-each
    assert "1. Back up the database into `backups/nightly`, keeping the last 14." in text


def test_mermaid_has_every_entity_field_and_relation(crm: Path) -> None:
    spec = load(SPECS["crm"])
    text = read(crm, "data-model.md")
    source = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert source == er_diagram.mermaid(spec)
    assert source.startswith("erDiagram\n")
    for entity in spec.entities:
        assert f'    "{entity.name}" {{\n        integer id PK\n' in source
    relations = [line for line in source.splitlines() if "--" in line]
    assert len(relations) == sum(1 for e in spec.entities for f in e.fields if f.relation)
    assert '    "Order" ||--o{ "OrderLine" : "sales_order / lines"' in relations
    assert '    "User" |o--o{ "Company" : "owner / owned_companies"' in relations
    assert '    "Order" |o--o| "Invoice" : "sales_order / invoice"' in relations
    assert '    "Contact" }o--o{ "ClientGroup" : "members / client_groups"' in relations
    assert "        ref company FK" in source and "        refs members\n" in source


def test_mermaid_keeps_names_that_are_mermaid_keywords_apart(tmp_path: Path) -> None:
    """Mermaid's lexer reads ``Topic`` as ``to`` + ``pic`` and ``pk`` as a key marker."""
    spec = tmp_path / "app.yaml"
    spec.write_text(
        "app: {name: words}\n"
        "roles: {admin: {superuser: true}}\n"
        "entities:\n"
        "  Topic:\n"
        "    fields: {pk: string, uk: {type: ref, to: Style, required: true}}\n"
        "  Style:\n"
        "    fields: {name: string}\n",
        encoding="utf-8",
    )
    source = er_diagram.mermaid(load(spec))
    assert '    "Topic" {\n        integer id PK\n        string `pk`\n' in source
    assert "        ref `uk` FK\n" in source
    assert '    "Style" ||--o{ "Topic" : "uk / topics"' in source


@pytest.mark.parametrize("name", ["crm", "every", "hostile"])
def test_the_svg_is_well_formed_and_lines_stay_out_of_the_tables(
    generated_apps: GeneratedApps, name: str
) -> None:
    spec = load(generated_apps(name).spec)
    data = (generated_apps(name).out / "docs" / "data-model.svg").read_bytes()
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    width, height = int(root.get("width", 0)), int(root.get("height", 0))
    tables = {
        g.get("id", "").removeprefix("entity-"): g.find(f"{SVG}rect") for g in root.iter(f"{SVG}g")
    }
    tables.pop("", None)
    assert list(tables) == [e.name for e in spec.entities]
    boxes = [
        tuple(int(r.get(k, 0)) for k in ("x", "y", "width", "height"))
        for r in tables.values()
        if r is not None
    ]
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == sum(1 for e in spec.entities for f in e.fields if f.relation)
    for line in lines:
        points = [tuple(map(int, p.split(","))) for p in line.get("points", "").split()]
        for (x1, y1), (x2, y2) in itertools.pairwise(points):
            assert x1 == x2 or y1 == y2  # orthogonal
            assert 0 <= min(x1, x2) and max(x1, x2) <= width
            assert 0 <= min(y1, y2) and max(y1, y2) <= height
            for bx, by, bw, bh in boxes:  # never through a table's inside
                crosses_x = min(x1, x2) < bx + bw and max(x1, x2) > bx
                crosses_y = min(y1, y2) < by + bh and max(y1, y2) > by
                assert not (crosses_x and crosses_y), f"{line.findtext(f'{SVG}title')}"


# -- the hostile spec --------------------------------------------------------------------------


def test_hostile_text_is_escaped_in_every_doc(hostile: Path) -> None:
    tables = 0
    for name in DOCS:
        text = read(hostile, name)
        assert "\u202e" not in text and "\r" not in text, name
        prose = without_code(text)
        assert "<" not in prose and ">" not in prose, name
        # every row of a table keeps the table's columns, whatever its cells hold
        for table in re.findall(r"(?:^\|.*\n)+", text, flags=re.MULTILINE):
            widths = {len(cells(row)) for row in table.splitlines()}
            assert len(widths) == 1, table
            tables += 1
    assert tables == 2 * 2 + 1 + 2  # per entity: fields, access; the enum; per role
    entities = read(hostile, "entities.md")
    assert "| `done` | &lt;/script&gt;&lt;script&gt;alert\\(1\\)&lt;/script&gt; |" in entities
    assert "Folded \\{\\{ not a template here \\}\\} and \\{% neither %\\};" in entities
    access = read(hostile, "access.md")
    assert "first line second line third \\\\ line \\\\\\\\ tab evil" in access
    assert read(hostile, "README.md").startswith(
        '# Robert\'\\); DROP TABLE students;-- "quoted": documentation\n'
    )
    processes = read(hostile, "processes.md")
    assert (
        "`{% raw %}{{ not a placeholder }} {% if %}{% endraw %} «{{ record.title }}»" in processes
    )


def test_hostile_labels_reach_the_svg_as_text(hostile: Path) -> None:
    root = ET.fromstring((hostile / "data-model.svg").read_bytes())
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "Note ''' quoted" in texts
    assert root.findtext(f"{SVG}title", "").startswith('Robert\'); DROP TABLE students;-- "quoted"')
    assert not list(root.iter(f"{SVG}script"))


def test_escaping_functions() -> None:
    assert md("- a *b* [c](d) <e> & `f` | g_h # 1. \u202eZ\x00\n2. x") == (
        "\\- a \\*b\\* \\[c\\]\\(d\\) &lt;e&gt; &amp; \\`f\\` \\| g\\_h \\# 1. Z 2. x"
    )
    assert md("1. first") == "1\\. first" and md("+ x") == "\\+ x" and md("===") == "\\==="
    assert md("https://x.example") == "https\\://x.example"
    assert code("a`b") == "`` a`b ``" and code("x|y", cell=True) == "`x\\|y`"
    assert code("``") == "``` `` ```" and code("") == ""
    assert xml_text("<a href=\"x\">'&'</a>\x01") == (
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    )
    assert xml_text("客户管理客户管理", limit=7) == "客户管…"
    assert (
        er_diagram._type("acme.geo-point") == "acme_geo_point" and er_diagram._type("9x") == "t_9x"
    )
    assert xml_text("abcdef", limit=4) == "abc…"
    for name in ('a"b', "x y", "Контакт", "{{ x }}", ""):  # never pasted into Mermaid
        with pytest.raises(GenerateError):
            er_diagram._name(name)


# -- determinism -------------------------------------------------------------------------------


def _docs_bytes(spec_path: Path) -> dict[str, bytes]:
    env = make_environment()
    return {
        f.path: produce(env, f) for f in build_plan(load(spec_path)) if f.path.startswith("docs/")
    }


def test_docs_are_the_same_bytes_on_every_run(hostile: Path) -> None:
    first = _docs_bytes(SPECS["hostile"])
    assert first == _docs_bytes(SPECS["hostile"])
    assert first == {f"docs/{p.name}": p.read_bytes() for p in hostile.iterdir()}


def test_docs_do_not_depend_on_hash_seeds_or_installed_tools() -> None:
    """Another interpreter, another hash seed and no PATH (no Graphviz, nothing): the same
    bytes as the committed snapshot."""
    script = (
        "import hashlib, sys\n"
        "from crmgen.render import app_docs\n"
        "from crmgen import load\n"
        "sys.stdout.write(hashlib.sha256(app_docs.svg_bytes(load(sys.argv[1]))).hexdigest())\n"
    )
    env = {
        "PYTHONHASHSEED": "12345",
        "PATH": "",
        "PYTHONPATH": f"{ROOT / 'runtime'}{os.pathsep}{ROOT}",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(SPECS["crm"])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    committed = (ROOT / "generated" / "crm" / app_docs.SVG_PATH).read_bytes()
    assert done.stdout == hashlib.sha256(committed).hexdigest()


def test_a_docs_folder_of_the_users_in_an_older_out_is_kept_beside(
    generated_apps: GeneratedApps, tmp_path: Path
) -> None:
    """An OUT written before crmgen wrote docs/ may hold the user's own docs/: regenerating
    keeps it, whole, as docs.user/."""
    out = generated_apps("minimal").copy_to(tmp_path / "out")
    marker = json.loads((out / ".crmgen").read_text(encoding="utf-8"))
    marker["files"] = [f for f in marker["files"] if not f.startswith("docs/")]
    marker["sha256"] = {p: h for p, h in marker["sha256"].items() if not p.startswith("docs/")}
    (out / ".crmgen").write_text(json.dumps(marker), encoding="utf-8")
    shutil.rmtree(out / "docs")
    (out / "docs").mkdir()
    (out / "docs" / "README.md").write_text("our notes\n", encoding="utf-8")
    generate(SPECS["minimal"], out)
    assert (out / "docs.user" / "README.md").read_text(encoding="utf-8") == "our notes\n"
    assert (out / "docs" / "README.md").read_text(encoding="utf-8").startswith("# Minimal CRM")
