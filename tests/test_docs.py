"""The docs document the code (Datasette-style documentation tests).

* Every key of the JSON Schema, every field type, step kind, integration type, where-operator and
  expression function appears in the spec reference (``docs/spec/*.md``), as `name` in backticks
  or as a key in a YAML block.
* The blocks of ``docs/cli.md`` are the exact ``--help`` output of every command.
* README.md's quick start has exactly two commands, and the second is the test command
  ``.ci/run`` runs.
* Every YAML block of README.md, CHANGELOG.md and ``docs/**/*.md`` is well-formed YAML by crmgen's
  own loader, and every relative link in them reaches a file (and a heading, for ``#anchors``).

When a CLI help text changes, paste the block printed by the failing test into docs/cli.md.
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
from crmgen.language import fields, steps
from crmgen.language.expressions import FUNCTIONS
from crmgen.language.integrations import INTEGRATION_TYPES
from crmgen.language.schema import spec_schema
from crmgen.language.steps import FILTER_OPERATORS
from crmgen.language.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SPEC_DOCS = DOCS / "spec"
CLI_DOC = DOCS / "cli.md"
FIELD_TYPES_DOC = SPEC_DOCS / "field-types.md"
# Every page of the documentation: the README, the changelog and docs/.
PAGES = sorted([README, ROOT / "CHANGELOG.md", *DOCS.rglob("*.md")])
CI_RUN = ROOT / ".ci" / "run"
TEST_COMMAND = 'python3 -m pip install -e ".[test]" && python3 -m pytest -n 2'
# Installs crmgen and what the app it serves needs, not the test tools.
SERVE_COMMAND = "python3 -m pip install -e . && crmgen serve examples/crm"
WIDTH = 100

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_YAML_KEY = re.compile(r"(?:^|[\s{\[,?-])([A-Za-z_][A-Za-z0-9_]*)[ \t]*:(?=\s|$)", re.MULTILINE)


def readme() -> str:
    return README.read_text(encoding="utf-8")


def spec_reference() -> str:
    """Every page of the spec reference, one after the other."""
    return "\n".join(page.read_text(encoding="utf-8") for page in sorted(SPEC_DOCS.glob("*.md")))


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
    documented = documented_names(spec_reference())
    missing = [n for n in names if n not in documented]
    assert not missing, f"{what} missing from docs/spec/*.md (write them as `name`): {missing}"


def test_schema_walk_finds_known_keys() -> None:
    keys = set(schema_keys(spec_schema()))
    assert {"entities", "on_delete", "weighted_by", "lockout_minutes", "through"} <= keys


def test_every_field_type_is_a_table_row() -> None:
    text = FIELD_TYPES_DOC.read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", text, re.MULTILINE)}
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


def cli_help_blocks() -> dict[str, str]:
    """The help blocks of docs/cli.md by their first line ('Usage: crmgen ...')."""
    blocks = [body for _lang, body in code_blocks(CLI_DOC.read_text(encoding="utf-8"))]
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
    blocks = cli_help_blocks()
    assert usage in blocks, (
        f"docs/cli.md has no block for `{' '.join(('crmgen',) + args)}`; add:\n"
        f"```text\n{expected}\n```"
    )
    assert blocks[usage] == expected, (
        f"docs/cli.md's block is stale; replace it with:\n```text\n{expected}\n```"
    )


def test_cli_reference_has_no_stale_commands() -> None:
    current = {normalize(help_text(args)).splitlines()[0] for args in ALL_COMMANDS}
    stale = sorted(set(cli_help_blocks()) - current)
    assert not stale, f"docs/cli.md documents commands that no longer exist: {stale}"


def test_every_command_has_a_heading() -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    for args in ALL_COMMANDS:
        title = " ".join(("crmgen",) + args)
        assert re.search(rf"^## `{re.escape(title)}`\s*$", text, re.MULTILINE), (
            f"no '## `{title}`' heading in docs/cli.md"
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


# -- every page: YAML examples and links -------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def prose(text: str) -> str:
    """The text outside fenced blocks, with inline code spans emptied."""
    return re.sub(r"`[^`\n]+`", "``", _FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """The #anchors GitHub gives the page's headings (lowercase, punctuation dropped, spaces to
    dashes; a repeated heading gets -1, -2, ...)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for match in _HEADING.finditer(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", match.group(2).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    """The targets of the page's links that are not URLs (no scheme such as https: or mailto:)."""
    targets = _LINK.findall(prose(page.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_the_pages_are_found() -> None:
    names = {page_id(page) for page in PAGES}
    assert {"README.md", "CHANGELOG.md", "docs/cli.md", "docs/spec/README.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_yaml_examples_are_well_formed(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for body in [body for lang, body in code_blocks(text) if lang in ("yaml", "yml")]:
        loaded = load_yaml(body, page_id(page))
        errors = [d.format_text() for d in loaded.diagnostics if d.severity == "error"]
        assert not errors, f"{errors}\nin:\n{body}"


def test_the_spec_reference_has_yaml_examples() -> None:
    blocks = [body for lang, body in code_blocks(spec_reference()) if lang in ("yaml", "yml")]
    assert len(blocks) > 10


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page: Path) -> None:
    """A link reaches a file of the repository, and its #anchor a heading of that file."""
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file() or ROOT not in file.parents:
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    assert not broken, f"{page_id(page)} has broken links: {broken}"


def test_the_link_check_sees_links_and_anchors() -> None:
    assert "docs/spec/README.md" in relative_links(README)
    assert "crmgen-generate" in anchors(CLI_DOC)
    assert "files-folders-and-use-modules" in anchors(SPEC_DOCS / "files-and-modules.md")


def test_the_readme_links_every_page_and_the_screenshots() -> None:
    targets = set(relative_links(README))
    assert any(t.startswith("docs/screenshots/") for t in targets)
    unlinked = [
        page_id(page)
        for page in PAGES
        if page != README and page_id(page) not in targets and page.parent != ROOT / "tests"
    ]
    assert not unlinked, f"README.md's 'Where to read on' does not link: {unlinked}"
