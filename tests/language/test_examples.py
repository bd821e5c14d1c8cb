"""Every shipped spec validates, and the printed JSON Schema accepts it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from crmgen.cli import cli
from crmgen.language import check_spec
from crmgen.language.schema import spec_schema
from crmgen.language.sources import load_sources

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir() and p.name != "ci")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_without_problems(example: Path) -> None:
    spec, diagnostics = check_spec(example)
    assert spec is not None, [d.format_text() for d in diagnostics]
    assert diagnostics == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_printed_schema_accepts_every_example_file(example: Path) -> None:
    printed = CliRunner().invoke(cli, ["schema"])
    assert printed.exit_code == 0
    schema = json.loads(printed.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    merged = load_sources(example).data
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(merged)) == []


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(spec_schema())
    assert spec_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
