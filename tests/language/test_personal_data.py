"""``personal_data`` and ``retention`` in the model (``crmgen.language.build_gdpr``); their
mistakes are in tests/broken/personal_data_mistakes."""

from __future__ import annotations

from pathlib import Path

import crmgen
from crmgen.language.model import Erasure

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_crm_declares_its_people() -> None:
    spec = crmgen.load(ROOT / "examples" / "crm")
    contact, lead = spec.entity("Contact"), spec.entity("Lead")
    assert contact is not None and lead is not None
    assert contact.personal_data is not None and lead.personal_data is not None
    modes = {e.field: e.mode for e in contact.personal_data.erasures}
    assert modes["full_name"] == "pseudonym" and modes["email"] == "blank"
    assert contact.personal_data.roles == ("manager",)
    assert lead.retention is not None
    assert (lead.retention.after_days, lead.retention.action) == (365, "anonymize")
    assert [(c.field, c.op) for c in lead.retention.where] == [("status", "eq")]
    assert spec.uses_gdpr


def test_a_replacement_keeps_its_value(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "app: {name: people}\nroles: {admin: {superuser: true}}\n"
        "entities:\n"
        "  Person:\n"
        "    fields: {name: {type: string, required: true}, score: integer}\n"
        "    personal_data:\n"
        "      fields: {name: {replace: Someone}, score: {replace: 0}}\n",
        encoding="utf-8",
    )
    person = crmgen.load(tmp_path / "spec.yaml").entity("Person")
    assert person is not None and person.personal_data is not None
    assert person.personal_data.erasures == (
        Erasure("name", "replace", "Someone"),
        Erasure("score", "replace", 0),
    )
    assert person.personal_data.roles == () and person.retention is None
