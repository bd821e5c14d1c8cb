"""The README documents the code (Datasette-style documentation tests).

* Every key of the JSON Schema, every field type, step kind, integration type, where-operator and
  expression function appears in README.md, as `name` in backticks or as a key in a YAML block.
* The "CLI reference" blocks are the exact ``--help`` output of every command.
* The quick start has exactly two commands, and the second is the test command ``.ci/run`` runs.
* Every YAML block in the README is well-formed YAML by crmgen's own loader.

When a CLI help text changes, paste the block printed by the failing test into the README.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from crmgen.cli import cli
from crmgen.spec import fields, steps
from crmgen.spec.expressions import FUNCTIONS
from crmgen.spec.integrations import INTEGRATION_TYPES
from crmgen.spec.schema import spec_schema
from crmgen.spec.steps import FILTER_OPERATORS
from crmgen.spec.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"
TEST_COMMAND = 'python3 -m pip install -e ".[test]" && python3 -m pytest -n 2'
# Installs crmgen and what the app it serves needs, not the test tools.
SERVE_COMMAND = "python3 -m pip install -e . && crmgen serve examples/crm"
WIDTH = 100

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_YAML_KEY = re.compile(r"(?:^|[\s{\[,?-])([A-Za-z_][A-Za-z0-9_]*)[ \t]*:(?=\s|$)", re.MULTILINE)


def readme() -> str:
    return README.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return [(m.group(1).strip().split(" ")[0], m.group(2)) for m in _FENCE.finditer(text)]


def inline_code(text: str) -> list[str]:
    """The contents of every `inline code` span outside fenced blocks."""
    prose = _FENCE.sub("", text)
    return [span.strip() for span in re.findall(r"`([^`\n]+)`", prose)]


def documented_names(text: str) -> set[str]:
    names: set[str] = set()
    for span in inline_code(text):
        names.add(span)
        call = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\(", span)
        if call:
            names.add(call.group(1))
    for lang, body in code_blocks(text):
        if lang in ("yaml", "yml"):
            names.update(_YAML_KEY.findall(body))
    return names


def schema_keys(node: Any) -> Iterator[str]:
    """Every key named in a ``properties`` mapping anywhere in the schema."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            yield from props
        for value in node.values():
            yield from schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_keys(value)


def section(text: str, title: str) -> str:
    """The body of the '## title' section, up to the next '## ' heading (outside code)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    inside = fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            if inside:
                break
            inside = line[3:].strip().lower() == title.lower()
            continue
        if inside:
            out.append(line)
    assert out, f"README has no '## {title}' section"
    return "".join(out)


# -- every name is documented -------------------------------------------------------------------


@pytest.mark.parametrize(
    "what,names",
    [
        pytest.param(what, names, id=what.replace(" ", "-"))
        for what, names in (
            ("JSON Schema keys", sorted(set(schema_keys(spec_schema())))),
            ("field types", sorted(fields.REGISTRY)),
            ("step kinds", sorted(steps.REGISTRY)),
            ("integration types", sorted(INTEGRATION_TYPES)),
            ("where operators", sorted(FILTER_OPERATORS)),
            ("expression functions", sorted(FUNCTIONS)),
        )
    ],
)
def test_every_name_is_documented(what: str, names: list[str]) -> None:
    assert names, f"no {what} found: the test lost its source"
    documented = documented_names(readme())
    missing = [n for n in names if n not in documented]
    assert not missing, f"{what} missing from README.md (write them as `name`): {missing}"


def test_schema_walk_finds_known_keys() -> None:
    keys = set(schema_keys(spec_schema()))
    assert {"entities", "on_delete", "weighted_by", "lockout_minutes", "through"} <= keys


def test_every_field_type_is_a_table_row() -> None:
    rows = {
        m.group(1)
        for m in re.finditer(
            r"^\| `([a-z_]+)` \|", section(readme(), "Spec reference"), re.MULTILINE
        )
    }
    missing = sorted(set(fields.REGISTRY) - rows)
    assert not missing, f"field types without a row in the field type table: {missing}"


# -- CLI reference --------------------------------------------------------------------------------


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in sorted(group.commands.items()):
        if getattr(command, "hidden", False):
            continue
        if isinstance(command, click.Group):
            yield from commands(command, prefix + (name,))
        else:
            yield prefix + (name,)


def help_text(args: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        cli,
        [*args, "--help"],
        prog_name="crmgen",
        terminal_width=WIDTH,
        env={"COLUMNS": str(WIDTH)},
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def readme_help_blocks() -> dict[str, str]:
    """CLI reference blocks by their first line ('Usage: crmgen ...')."""
    blocks = [body for _lang, body in code_blocks(section(readme(), "CLI reference"))]
    found = {}
    for body in blocks:
        text = normalize(body)
        if text.startswith("Usage: crmgen"):
            found[text.splitlines()[0]] = text
    return found


ALL_COMMANDS = list(commands(cli))


@pytest.mark.parametrize("args", ALL_COMMANDS, ids=lambda a: " ".join(("crmgen",) + a))
def test_cli_reference_matches_help(args: tuple[str, ...]) -> None:
    expected = normalize(help_text(args))
    usage = expected.splitlines()[0]
    blocks = readme_help_blocks()
    assert usage in blocks, (
        f"README's CLI reference has no block for `{' '.join(('crmgen',) + args)}`; add:\n"
        f"```text\n{expected}\n```"
    )
    assert blocks[usage] == expected, (
        f"README's block is stale; replace it with:\n```text\n{expected}\n```"
    )


def test_cli_reference_has_no_stale_commands() -> None:
    current = {normalize(help_text(args)).splitlines()[0] for args in ALL_COMMANDS}
    stale = sorted(set(readme_help_blocks()) - current)
    assert not stale, f"README documents commands that no longer exist: {stale}"


def test_every_command_has_a_heading() -> None:
    text = section(readme(), "CLI reference")
    for args in ALL_COMMANDS:
        title = " ".join(("crmgen",) + args)
        assert re.search(rf"^### `{re.escape(title)}`\s*$", text, re.MULTILINE), (
            f"no '### `{title}`' heading"
        )


# -- quick start ----------------------------------------------------------------------------------


def quick_start_commands() -> list[str]:
    body = section(readme(), "Quick start")
    found = []
    for lang, block in code_blocks(body):
        if lang in ("sh", "bash", "shell", "console", ""):
            for line in block.splitlines():
                line = line.strip().removeprefix("$ ")
                if line and not line.startswith("#"):
                    found.append(line)
    return found


def test_quick_start_has_exactly_two_commands() -> None:
    found = quick_start_commands()
    assert len(found) == 2, found
    assert found[0] == SERVE_COMMAND, found[0]
    assert found[1] == TEST_COMMAND


def test_quick_start_states_the_time_to_healthy() -> None:
    body = section(readme(), "Quick start")
    assert re.search(r"answers /healthz \d+ s after", body), "state the measured time"


def test_quick_start_test_command_is_what_ci_runs() -> None:
    install, _, test = TEST_COMMAND.partition(" && ")
    ci = CI_RUN.read_text(encoding="utf-8")
    assert test in ci, f"{CI_RUN} does not run `{test}`"
    assert install.replace("python3 -m pip install", "").strip() in ci, (
        f"{CI_RUN} does not install `.[test]`"
    )


# -- YAML examples --------------------------------------------------------------------------------


def test_yaml_examples_are_well_formed() -> None:
    blocks = [body for lang, body in code_blocks(readme()) if lang in ("yaml", "yml")]
    assert len(blocks) > 10
    for body in blocks:
        loaded = load_yaml(body, "README.md")
        errors = [d.format_text() for d in loaded.diagnostics if d.severity == "error"]
        assert not errors, f"{errors}\nin:\n{body}"


def test_every_local_link_of_the_readme_exists() -> None:
    """Links to docs, screenshots and examples point at files that are in the repository."""
    root = Path(__file__).resolve().parent.parent
    targets = re.findall(r"\]\(((?:docs|examples|benchmarks)/[^)#\s]+)\)", readme())
    assert any(t.startswith("docs/screenshots/") for t in targets)
    missing = [t for t in targets if not (root / t).is_file()]
    assert not missing, f"README links to missing files: {missing}"
