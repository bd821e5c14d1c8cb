"""The JDL parser: every construct the importer reads, and located errors for bad JDL."""

from __future__ import annotations

import pytest

from crmgen.jdl.parser import JdlError, parse_jdl

JDL = """
application {
  config { baseName shop, applicationType monolith, languages [en, nl] }
  entities *
  dto * with mapstruct
}
MAX = 40
/** A customer of the shop */
@paginate(pagination)
entity Customer(shop_customer) {
  /** The name on invoices */
  name String required unique minlength(2) maxlength(MAX),
  code String pattern(/^[A-Z]{2}\\/[0-9]+$/)
  score Integer min(-5) max(10)
  photo ImageBlob maxbytes(5000000)
}
// a plain comment
enum Level { LOW("Low level"), HIGH(high) }
relationship ManyToOne {
  Customer{owner(login) required} to User with builtInEntity
}
relationship OneToMany {
  /** orders */ Customer{order} to @OnDelete("CASCADE") Order{customer(name)}
}
paginate Customer, Order with infinite-scroll
service all with serviceImpl except Order
deployment { deploymentType docker-compose }
"""


def test_every_construct_is_read() -> None:
    model = parse_jdl(JDL)
    (app,) = model.applications
    assert app.config == {
        "baseName": "shop",
        "applicationType": "monolith",
        "languages": ["en", "nl"],
    }
    assert app.entities == ["*"]
    (customer,) = model.entities
    assert (customer.name, customer.table, customer.doc) == (
        "Customer",
        "shop_customer",
        "A customer of the shop",
    )
    assert [(a.name, a.value) for a in customer.annotations] == [("paginate", "pagination")]
    name, code, score, photo = customer.fields
    assert name.doc == "The name on invoices"
    assert name.validations == {
        "required": None,
        "unique": None,
        "minlength": "2",
        "maxlength": "40",
    }
    assert code.validations == {"pattern": "^[A-Z]{2}\\/[0-9]+$"}
    assert score.validations == {"min": "-5", "max": "10"}
    assert (photo.type, photo.validations) == ("ImageBlob", {"maxbytes": "5000000"})
    (level,) = model.enums
    assert level.values == [("LOW", "Low level"), ("HIGH", "high")]
    many, one = model.relationships
    assert (many.kind, many.source.field, many.source.display, many.source.required) == (
        "ManyToOne",
        "owner",
        "login",
        True,
    )
    assert many.options == ["builtInEntity"]
    assert one.source.doc == "orders"
    assert [(a.name, a.value) for a in one.target.annotations] == [("OnDelete", "CASCADE")]
    assert (one.target.field, one.target.display) == ("customer", "name")
    options = [(o.name, o.entities, o.value, o.excluded) for o in model.options]
    assert options == [
        ("dto", ["*"], "mapstruct", []),
        ("paginate", ["Customer", "Order"], "infinite-scroll", []),
        ("service", ["*"], "serviceImpl", ["Order"]),
    ]
    assert [what for what, _, _ in model.ignored] == ["deployment block"]


def test_relationship_sides_without_field_names() -> None:
    (rel,) = parse_jdl("relationship OneToMany {\n  Ticket to Attachment\n}").relationships
    assert (rel.source.entity, rel.source.field, rel.target.entity, rel.target.field) == (
        "Ticket",
        None,
        "Attachment",
        None,
    )


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "entity A {\n  name String\n",
            3,
            1,
            "expected a field name or '}', found the end of the file",
        ),
        (
            "entity A {\n  name String maxlength(x)\n}",
            2,
            25,
            "maxlength needs a number or a constant",
        ),
        ("relationship OneToFew { A to B }", 1, 14, "unknown relationship kind 'OneToFew'"),
        ("relationship OneToOne { A{b} B }", 1, 30, "expected 'to', found 'B'"),
        ("entity A { s String pattern(/abc) }", 1, 29, "unterminated regular expression"),
        ("/* never closed", 1, 1, "unterminated comment"),
        ("entity A { name String } #", 1, 26, "unexpected character '#'"),
        ("enum E { A, B", 1, 14, "expected an enum value or '}'"),
        ("{", 1, 1, "expected 'entity', 'enum', 'relationship', 'application' or an option"),
    ],
)
def test_bad_jdl_is_located(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(JdlError) as caught:
        parse_jdl(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert message in caught.value.message
