"""Sandboxed expressions: a whitelist of syntax, known names, fields followed through refs."""

from __future__ import annotations

import pytest

from crmgen.language.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    EntityValue,
    Items,
    ListOf,
    Opaque,
    Scope,
    Struct,
    check,
    check_kind,
    parse,
)
from crmgen.render.expr_py import python_source

TABLES = {
    "Deal": {
        "amount": Opaque(),
        "stage": Opaque(),
        "owner": EntityValue("User"),
        "tags": ListOf("Tag"),
    },
    "User": {"email": Opaque(), "position": Opaque()},
    "Tag": {"name": Opaque()},
}
SCOPE = Scope(
    {
        "record": EntityValue("Deal"),
        "user": EntityValue("User"),
        "n": Opaque(),
        "input": Struct((("reason", Opaque()),)),
    },
    TABLES.get,
)


def problems(text: str) -> list[str]:
    return [p.message for p in check(text, SCOPE)[1]]


@pytest.mark.parametrize(
    "text",
    [
        "record.amount * 0.2",
        "today() + days(3)",
        "record.stage != 'done' and n > 10",
        "record.owner.email",
        "not (n >= 1) or n in [1, 2, 3]",
        "record.amount if record.amount else 0",
        "min(1, 2, n) + max(n, 3)",
        "round(record.amount, 2)",
        "coalesce(record.owner, user)",
        "input.reason",
        "has_role('manager', 'admin')",
        "-n + +n - n // 2 % 3",
        "record.owner is None",
        "  record.amount  ",
        "(record.amount >\n 5)",  # a line break inside brackets
    ],
)
def test_allowed_expressions(text: str) -> None:
    assert problems(text) == []


@pytest.mark.parametrize(
    "text, words",
    [
        ("__import__('os').system('x')", ["only the built-in functions"]),
        ("open('/etc/passwd')", ["unknown function 'open'"]),
        ("lambda: 1", ["lambda"]),
        ("[x for x in n]", ["comprehension"]),
        ("n[0]", ["indexing"]),
        ("n ** 1000000", ["'**'"]),
        ("n << 2", ["'<<'"]),
        ("{'a': 1}", ["mapping"]),
        ("f'{n}'", ["f-string"]),
        ("(y := 1)", ["':='"]),
        ("record.__class__", ["'_'"]),
        ("record._sa_instance", ["'_'"]),
        ("b'bytes'", ["constant"]),
        ("today", ["is a function"]),
        ("days(1, 2)", ["days() takes 1 argument(s), got 2"]),
        ("today(1)", ["takes 0"]),
        ("round(n, ndigits=2)", ["keyword"]),
        ("max(*n)", ["'*'"]),
        ("recrod.amount", ["unknown name 'recrod'", "did you mean 'record'"]),
        ("record.amuont", ["Deal has no field 'amuont'", "did you mean 'amount'"]),
        ("record.owner.emial", ["User has no field 'emial'", "did you mean 'email'"]),
        ("input.nope", ["the input has no field 'nope'"]),
        ("n +", ["bad expression"]),
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("a\x00b", ["bad expression"]),
        ("x" * (MAX_LENGTH + 1), ["longer than"]),
    ],
)
def test_rejected_expressions_say_why(text: str, words: list[str]) -> None:
    found = problems(text)
    assert found, text
    joined = " | ".join(found)
    for word in words:
        assert word in joined


def test_deep_nesting_is_a_problem_not_a_recursion_error() -> None:
    found = problems("1+" * 900 + "1")
    assert len(found) == 1 and f"deeper than {MAX_DEPTH}" in found[0]
    assert problems("-" * 1500 + "n") and problems("not " * 400 + "n")


def test_nesting_within_the_limit_is_fine() -> None:
    assert problems("1+" * 50 + "1") == []


def test_problem_positions_point_at_the_offending_name() -> None:
    _, found = check("n + recrod.amount", SCOPE)
    assert [(p.line, p.column) for p in found] == [(1, 5)]
    _, found = check("record.amuont", SCOPE)
    assert [(p.line, p.column) for p in found] == [(1, 8)]  # the attribute, not the record
    _, found = check("  n +  nope", SCOPE)
    assert [(p.line, p.column) for p in found] == [(1, 8)]  # leading spaces counted
    _, found = check("(n and\n  nope)", SCOPE)
    assert [(p.line, p.column) for p in found] == [(2, 3)]


def test_syntax_error_position() -> None:
    _, found = check("n + (1", SCOPE)
    assert found and found[0].line == 1 and "bad expression" in found[0].message


def test_the_expression_records_its_root_names() -> None:
    expression, found = check("record.amount + n * record.amount", SCOPE)
    assert (
        found == []
        and expression.names == ("n", "record")
        and str(expression) == "record.amount + n * record.amount"
    )


def test_kinds_follow_references() -> None:
    assert check_kind("record.owner", SCOPE)[2] == EntityValue("User")
    assert check_kind("record.tags", SCOPE)[2] == ListOf("Tag")
    assert check_kind("record.amount", SCOPE)[2] == Opaque()


def test_an_unknown_entity_is_not_checked() -> None:
    scope = Scope({"x": EntityValue("Broken")}, TABLES.get)
    assert check("x.anything.at_all", scope)[1] == []


def test_child_scopes_add_names_without_changing_the_parent() -> None:
    child = SCOPE.child(item=EntityValue("Tag"))
    assert check("item.name", child)[1] == []
    assert check("item.name", SCOPE)[1]


def test_an_expression_over_several_lines_needs_no_brackets() -> None:
    scope = Scope({"a": Opaque(), "b": Opaque()})
    _expression, problems = check("a > 1\nand b < 2", scope)
    assert problems == []
    _expression, problems = check("a > 1\nand c < 2", scope)
    assert [(p.line, p.column) for p in problems] == [(2, 5)]


def test_a_field_named_like_a_python_keyword_is_read_after_a_dot() -> None:
    tables = {"Mail": {"from": Opaque(), "global": EntityValue("Mail"), "in": Opaque()}}
    scope = Scope({"record": EntityValue("Mail"), "n": Opaque()}, tables.get)
    assert check("record.from == 'x' and record.global.in > n", scope)[1] == []
    assert check("record.global\n  .from != ''", scope)[1] == []  # over lines, columns kept
    tree = parse("record.global.from").body
    assert tree.attr == "from" and tree.value.attr == "global"  # type: ignore[attr-defined]
    _, found = check("n + record.class", scope)
    assert [(p.line, p.column, p.message) for p in found] == [(1, 12, "Mail has no field 'class'")]
    # a keyword stays a keyword where Python reads it bare
    assert any("bad expression" in p.message for p in check("from + 1", scope)[1])


# --- x[0] in process steps: an http step's reply ----------------------------------------------

REPLY = Struct(
    (
        ("status", Opaque()),
        (
            "body",
            Struct((("items", Items(Struct((("title", Opaque()),), "an item"))),), "the body"),
        ),
    ),
    "the reply",
)


def test_indexing_reads_lists_and_objects_in_process_steps_only() -> None:
    steps = Scope({"reply": REPLY, "record": EntityValue("Deal")}, TABLES.get, subscripts=True)
    expression, found, kind = check_kind("reply.body.items[-1].title", steps)
    assert found == [] and expression.names == ("reply",) and kind == Opaque()
    assert [p.message for p in check("reply.body.items[0].titel", steps)[1]] == [
        "an item has no field 'titel'; did you mean 'title'?"
    ]
    assert [p.message for p in check("reply.body['items'][0]", steps)[1]] == []
    found = [p.message for p in check("reply.body.items[reply.status]", steps)[1]]
    assert found and "whole number or a quoted name" in found[0]
    found = [p.message for p in check("record.tags[0]", steps)[1]]
    assert found and "records are not read by index" in found[0]
    elsewhere = Scope({"reply": REPLY}, TABLES.get)
    assert "indexing" in check("reply.body.items[0]", elsewhere)[1][0].message


def test_indexing_compiles_to_a_call_that_never_fails() -> None:
    steps = Scope({"reply": REPLY}, TABLES.get, subscripts=True)
    expression = check("reply.body.items[-1].title", steps)[0]
    assert python_source(expression) == "fn.item(reply.body.items, -1).title"
