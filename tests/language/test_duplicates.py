"""Duplicate rules: the `duplicates:` key of an entity, its model (the kinds other checks read)
and the generated app's ``Resource.duplicates`` and trigram indexes (the mistakes `validate`
locates are the broken-spec case `tests/broken/duplicates_mistakes`)."""

from __future__ import annotations

from pathlib import Path

import crmgen
from crmgen.generate import generate
from crmgen.language.model import DUPLICATE_KINDS, DuplicateRule
from tests.security.crm import CRM_SPEC

SPEC = """\
app: {name: people}
roles:
  admin: {superuser: true}
entities:
  Person:
    fields:
      first_name: string
      last_name: string
      email: email
      phone: phone
    duplicates:
      - {email: email}
      - {phone: phone}
      - {fuzzy: [first_name, last_name], threshold: 0.7}
      - {fuzzy: last_name}
  Note:
    fields:
      text: text
"""


def test_rules_are_checked_into_the_model_and_rendered(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    spec = crmgen.load(tmp_path / "spec.yaml")
    person = spec.entity("Person")
    assert [(r.kind, r.fields, r.threshold) for r in person.duplicates] == [
        ("email", ("email",), None),
        ("phone", ("phone",), None),
        ("fuzzy", ("first_name", "last_name"), 0.7),
        ("fuzzy", ("last_name",), 0.6),  # the default threshold
    ]
    assert {r.kind for r in person.duplicates} <= set(DUPLICATE_KINDS)
    assert person.fuzzy_fields == {"first_name", "last_name"}
    assert spec.entity("Note").duplicates == () and spec.entity("Note").fuzzy_fields == set()
    generate(tmp_path / "spec.yaml", tmp_path / "out")
    package = next(p for p in (tmp_path / "out").iterdir() if (p / "resources.py").is_file())
    resources = (package / "resources.py").read_text(encoding="utf-8")
    assert "from crmgen_runtime.duplicates import Rule as DuplicateRule" in resources
    assert 'DuplicateRule("fuzzy", ("first_name", "last_name"), 0.7),' in resources
    assert resources.count("duplicates=(") == 1
    models = (package / "models.py").read_text(encoding="utf-8")
    assert '"people": [["first_name", "last_name"], ["last_name"]],' in models
    pyproject = (tmp_path / "out" / "pyproject.toml").read_text(encoding="utf-8")
    assert '"rapidfuzz>=3.0"' in pyproject


def test_the_reference_crm_has_rules_on_contacts_and_leads() -> None:
    spec = crmgen.load(CRM_SPEC)
    assert spec.entity("Contact").duplicates[-1] == DuplicateRule(
        "fuzzy", ("full_name",), 0.8, spec.entity("Contact").duplicates[-1].position
    )
    assert [r.kind for r in spec.entity("Lead").duplicates] == ["email", "phone"]
