"""examples/ci/github-actions.yml: a valid workflow whose crmgen commands use real options."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import yaml

from crmgen.cli import cli

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"


def crmgen_commands(workflow: dict) -> list[list[str]]:
    """Every ``crmgen ...`` command line in the workflow's ``run`` steps, split like a shell."""
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = " ".join(step.get("run", "").split())  # folded (>) blocks as one line
            for part in script.split("||")[0].split(" > ")[0].split(" && "):
                part = part.strip()
                if part.startswith("crmgen "):
                    found.append(shlex.split(part)[1:])
    return found


def parse(args: list[str]) -> click.Context:
    """Parse ``crmgen ARGS`` as the CLI would, without running it (a UsageError if wrong)."""
    group = click.Context(cli, info_name="crmgen", **cli.context_settings)
    command = cli.get_command(group, args[0])
    assert command is not None, args[0]
    return command.make_context(args[0], list(args[1:]), parent=group)


def test_the_workflow_validates_then_publishes_on_main() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert set(workflow["jobs"]) == {"validate", "publish"}
    publish = workflow["jobs"]["publish"]
    assert publish["needs"] == "validate"
    assert "refs/heads/main" in publish["if"]
    uploads = [s for s in publish["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and uploads[0]["with"]["path"] == "publish-report.json"


def test_every_crmgen_command_in_the_workflow_parses(tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    commands = crmgen_commands(workflow)
    assert [c[0] for c in commands] == ["validate", "publish"]
    spec = str(ROOT / "examples" / "crm")
    for args in commands:
        concrete = [spec if a == "$SPEC" else ("tag:1" if "${{" in a else a) for a in args]
        context = parse(concrete)
        if args[0] == "publish":
            assert context.params["report_path"] is not None
            assert context.params["push"] is True and context.params["docker_mode"] == "yes"
            assert context.params["test_database"].startswith("postgresql")
