"""Files in the spec language (issue 14 item 5): the `image` type, `attachments:`, the
`attach_document` step, the reserved names `files` and `attachments`, and no trace of any of it
in an app whose spec stores no files."""

from __future__ import annotations

from pathlib import Path

import crmgen
from crmgen.render.plan import build_plan
from tests.language.sample_specs import write

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
app: {name: filed}
roles: {admin: {superuser: true}}
entities:
  Note:
    attachments: true
    fields:
      title: string
      pic: {type: image, accept: [image/png], max_size_mb: 2}
      scan: file
    documents:
      sheet: {fields: [title]}
processes:
  save_sheet:
    on: {create: Note, when: after}
    steps:
      - attach_document: {document: sheet}
      - attach_document: {document: sheet, field: scan, format: xlsx}
"""


def check(tmp_path: Path, text: str) -> tuple[crmgen.Spec | None, list[str]]:
    spec, diagnostics = crmgen.check_spec(write(tmp_path, text))
    return spec, [f"{d.position.line}:{d.position.column}: {d.message}" for d in diagnostics]


def test_image_fields_attachments_and_attach_document_are_read(tmp_path: Path) -> None:
    spec, problems = check(tmp_path, SPEC)
    assert problems == [] and spec is not None
    note = spec.entity("Note")
    assert note is not None and note.attachments and spec.uses_files
    pic = note.field("pic")
    assert pic is not None and pic.type == "image" and pic.accept == ("image/png",)
    assert pic.max_size_mb == 2
    first, second = spec.processes[0].steps
    assert (first.kind, first.entity, first.document, first.field) == (
        "attach_document",
        "Note",
        "sheet",
        None,
    )
    assert (second.field, second.format) == ("scan", "xlsx")


def test_misuse_is_explained_where_it_is(tmp_path: Path) -> None:
    text = (
        SPEC.replace("    attachments: true\n", "")
        .replace("{document: sheet}", "{document: nope}")
        .replace("field: scan", "field: title")
        .replace("  Note:\n", "  File:\n    fields: {name: string}\n  Note:\n", 1)
        .replace(
            "      scan: file\n",
            "      scan: file\n      owner: {type: ref, to: File, back: attachments}\n",
        )
    )
    spec, problems = check(tmp_path, text)
    assert spec is None
    assert any(
        "File's API path /api/files is used by the generated app itself" in p for p in problems
    )
    assert any("back-reference 'attachments'" in p and "its own attachments" in p for p in problems)
    assert any("Note has no document 'nope' (its documents: sheet)" in p for p in problems)
    assert any(
        "Note.title is a string field: a document goes in a file field" in p for p in problems
    )
    assert all(p.split(":")[0].isdigit() for p in problems)  # each one located


def test_attaching_needs_attachments_or_a_field(tmp_path: Path) -> None:
    text = SPEC.replace("    attachments: true\n", "")
    _, problems = check(tmp_path, text)
    assert any("Note takes no attachments: set 'attachments: true'" in p for p in problems)


def test_a_spec_without_files_generates_no_trace_of_them() -> None:
    spec = crmgen.load(ROOT / "examples" / "minimal")
    assert not spec.uses_files
    plan = build_plan(spec)
    paths = {planned.path for planned in plan}
    assert "deploy/kubernetes/files-pvc.yaml" not in paths


def test_the_reference_crm_stores_files() -> None:
    spec = crmgen.load(ROOT / "examples" / "crm")
    contact, deal, company = (spec.entity(n) for n in ("Contact", "Deal", "Company"))
    assert contact is not None and deal is not None and company is not None
    assert contact.field("photo").type == "image"  # type: ignore[union-attr]
    assert deal.field("contract").type == "file"  # type: ignore[union-attr]
    assert deal.attachments and company.attachments
