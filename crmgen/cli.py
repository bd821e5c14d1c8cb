"""The ``crmgen`` command line (see ../docs/cli.md).

Exit codes: 0 success, 1 user error (a bad spec, a bad option value), 2 usage error (click).
User errors never print a traceback; ``--debug`` shows one for internal failures.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

from crmgen import __version__
from crmgen.diagnostics import render_json, render_text
from crmgen.language import check_spec
from crmgen.language.schema import spec_schema

INTERNAL_ERROR = 3


class UserError(click.ClickException):
    """A problem the user can fix: printed as one line on stderr, exit 1."""

    exit_code = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crmgen")
@click.option("--debug", is_flag=True, help="Show a traceback for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """crmgen: a declarative YAML spec in, a complete runnable CRM out."""
    ctx.obj = {"debug": debug}


@cli.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print problems: FILE:LINE:COL lines, or a JSON list.",
)
@click.option(
    "--strict", is_flag=True, help="Treat warnings as errors (exit 1 when there are any)."
)
def validate(spec: Path, fmt: str, strict: bool) -> None:
    """Check SPEC (a file, or a folder of files that make one spec).

    Prints every problem as FILE:LINE:COL: error: MESSAGE (or warning:), or as JSON with
    --format json. Exits 1 when there is any error.
    """
    model, diagnostics = check_spec(spec)
    if fmt == "json":
        click.echo(render_json(diagnostics), nl=False)
    else:
        click.echo(render_text(diagnostics), nl=False, err=True)
    failed = model is None or (strict and bool(diagnostics))
    if fmt == "text":
        errors = sum(d.severity == "error" for d in diagnostics)
        warnings = len(diagnostics) - errors
        if failed:
            click.echo(f"{spec}: {errors} error(s), {warnings} warning(s)", err=True)
        else:
            entities = sum(not e.builtin for e in model.entities) if model else 0
            summary = f"{entities} entities, {len(model.processes) if model else 0} processes"
            click.echo(f"{spec}: valid ({summary}; {warnings} warning(s))", err=True)
    sys.exit(1 if failed else 0)


@cli.command()
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indentation.")
def schema(indent: int) -> None:
    """Print the JSON Schema (draft 2020-12) of the spec language, for editors.

    Save it beside your spec, then point the YAML language server at it with a
    comment on the spec's first line:

    \b
        crmgen schema > crmgen-schema.json
        # yaml-language-server: $schema=crmgen-schema.json
    """
    click.echo(json.dumps(spec_schema(), indent=indent, ensure_ascii=False, sort_keys=False))


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option(
    "--name", default=None, help="The app's name (snake_case); default: the folder's name."
)
@click.option("--force", is_flag=True, help="Overwrite an existing spec file.")
def init(directory: Path, name: str | None, force: bool) -> None:
    """Write a starter spec (DIRECTORY/crm.yaml) that validates as it is."""
    from crmgen.init import write_starter

    target = write_starter(directory, name, force)
    click.echo(f"wrote {target}; next: crmgen validate {target}", err=True)


ALLOW_DESTRUCTIVE_HELP = (
    "Allow the new migration to drop NAME (an entity, or Entity.field) and the data in it; "
    "repeat for each. Without it a change that drops data is refused and OUT is left as it was."
)
# Options shared by the commands that render the app (generate, serve, publish).
templates_option = click.option(
    "--templates",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="A folder of templates searched before the built-in ones, file by file.",
)
force_option = click.option(
    "--force",
    is_flag=True,
    help="Replace generated files changed by hand in OUT, keeping each edited copy as FILE.orig "
    "(without it such files stop the command with exit 1 and OUT is left as it was).",
)
allow_destructive_option = click.option(
    "--allow-destructive",
    "allow_destructive",
    multiple=True,
    metavar="NAME",
    help=ALLOW_DESTRUCTIVE_HELP,
)


@cli.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the app into (new, empty, or a previous crmgen output).",
)
@templates_option
@allow_destructive_option
@force_option
def generate(
    spec: Path, out: Path, templates: Path | None, allow_destructive: tuple[str, ...], force: bool
) -> None:
    """Render the app for SPEC into OUT.

    Everything is rendered and formatted in a temporary folder beside OUT, then swapped in:
    OUT is never left half-written. Same spec, same crmgen: byte-identical files.

    Over a previous output, the tables are compared with the previous ones and a new migration
    revision is added (renames declared with renamed_from included); earlier revisions stay
    byte-identical, and no change adds no revision.

    A generated file changed by hand since crmgen wrote it stops generate (exit 1, the files
    listed, OUT unchanged): put custom code beside the spec in custom/, or use --force.
    Migration revisions are yours once written: never rewritten, never compared.
    """
    from crmgen.generate import generate_from
    from crmgen.render import GenerateError

    model, diagnostics = check_spec(spec)
    click.echo(render_text(diagnostics), nl=False, err=True)
    if model is None:
        errors = sum(d.severity == "error" for d in diagnostics)
        click.echo(f"{spec}: {errors} error(s), {len(diagnostics) - errors} warning(s)", err=True)
        sys.exit(1)
    try:
        written = generate_from(
            model,
            out,
            templates,
            allow_destructive=allow_destructive,
            warn=lambda line: click.echo(f"warning: {line}", err=True),
            hand_edits="keep" if force else "stop",
        )
    except GenerateError as exc:
        raise UserError(str(exc)) from exc
    click.echo(f"wrote {len(written)} files to {out}", err=True)


@cli.command()
@click.argument("spec", type=click.Path(path_type=Path, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--database",
    metavar="URL",
    default=None,
    help="Database URL (default: an SQLite file in the cache folder, seeded with demo data).",
)
@allow_destructive_option
@click.option(
    "--worker/--no-worker",
    default=True,
    show_default=True,
    help="Also run the app's worker (outbox delivery and scheduled processes).",
)
def serve(
    spec: Path,
    host: str,
    port: int,
    database: str | None,
    allow_destructive: tuple[str, ...],
    worker: bool,
) -> None:
    """Generate the app for SPEC into a cache folder and run it; reload when the spec changes.

    The cache folder is $CRMGEN_CACHE (default ~/.cache/crmgen)/<app>-<hash of the spec path>.
    The database is migrated on every start and change; the default SQLite database is seeded
    with demo data while it is empty. The app's worker runs beside the web server unless
    --no-worker. The app runs in local development (APP_ENV=development) with a key kept in
    the cache folder and PUBLIC_URL set to the served address.

    An invalid spec at the first start prints its errors and exits 1; an invalid edit prints
    them and the previous version keeps running. Ctrl-C, SIGTERM or SIGHUP stop the app server
    and the worker, then crmgen serve.
    """
    from crmgen.serve import Server

    server = Server(
        spec,
        host=host,
        port=port,
        database=database,
        allow_destructive=allow_destructive,
        echo=lambda line: click.echo(line, err=True),
        worker=worker,
    )
    sys.exit(server.watch())


@cli.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to publish the app into (new, empty, or a previous crmgen output).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the JSON report (stages, durations, artefacts, tests) to this file.",
)
@templates_option
@allow_destructive_option
@click.option(
    "--test-database",
    metavar="URL",
    default=None,
    help="Run the generated tests on this database (DATABASE_URL, e.g. PostgreSQL).",
)
@click.option("--skip-tests", is_flag=True, help="Do not run the generated tests (reported).")
@click.option(
    "--docker",
    "docker_mode",
    is_flag=False,
    flag_value="yes",
    default=None,
    type=click.Choice(["yes", "auto"]),
    help="Build the Docker image; --docker=auto skips it with a warning when no engine answers.",
)
@click.option("--tag", default=None, help="The image tag (default: APP:0.1.0).")
@click.option("--push", is_flag=True, help="Push the image after building it (needs --docker).")
@click.option(
    "--deploy",
    type=click.Choice(["compose"]),
    default=None,
    help="After publishing, start compose.yaml (or print the commands when no engine answers).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: progress and a summary on stderr; json: also the report on stdout.",
)
@force_option
def publish(
    spec: Path,
    out: Path,
    report_path: Path | None,
    templates: Path | None,
    allow_destructive: tuple[str, ...],
    test_database: str | None,
    skip_tests: bool,
    docker_mode: str | None,
    tag: str | None,
    push: bool,
    deploy: str | None,
    fmt: str,
    force: bool,
) -> None:
    """Run the whole pipeline for SPEC into OUT, stage by stage, each timed.

    validate -> generate -> format -> compile -> test -> package -> docker -> deploy.
    Everything happens in a staging folder that replaces OUT only when every stage passed:
    a failing stage names itself, exits 1 and leaves OUT as it was (generated files changed
    by hand stop the generate stage unless --force).
    """
    from crmgen.publish import Options
    from crmgen.publish import publish as run_publish
    from crmgen.publish.report import dumps

    if push and not docker_mode:
        raise UserError("--push needs --docker (the image to push is built by --docker)")
    options = Options(
        templates=templates,
        allow_destructive=allow_destructive,
        test_database=test_database,
        skip_tests=skip_tests,
        docker=docker_mode,
        tag=tag,
        push=push,
        deploy=deploy,
        force=force,
    )
    outcome = run_publish(
        spec, out, options, echo=lambda line: click.echo(line, err=True), report_path=report_path
    )
    if fmt == "json":
        click.echo(dumps(outcome.report), nl=False)
    if not outcome.passed:
        stage = outcome.failed_stage
        message = next(r.message for r in outcome.results if r.name == stage)
        click.echo(f"publish failed at stage '{stage}': {message}", err=True)
        sys.exit(1)
    click.echo(f"published {spec} to {out}", err=True)


@cli.group(name="import")
def import_group() -> None:
    """Convert a data model from another tool into a crmgen spec folder."""


@import_group.command(name="jdl")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "-o", "--out", type=click.Path(path_type=Path), required=True, help="The spec folder to write."
)
@click.option("--force", is_flag=True, help="Write into a non-empty OUT (replaces its crm.yaml).")
def import_jdl(file: Path, out: Path, force: bool) -> None:
    """Convert the JHipster JDL FILE into a crmgen spec folder OUT (OUT/crm.yaml).

    Prints, as FILE:LINE:COL lines, what was changed (warning:) and what had no equivalent
    (note:), then validates the spec. Exits 1 on bad JDL, on a non-empty OUT without --force,
    or when the spec does not validate.
    """
    from crmgen.jdl import ImportFailure
    from crmgen.jdl import import_jdl as run_import

    try:
        imported = run_import(file, out, force)
    except ImportFailure as error:
        raise UserError(str(error)) from error
    for note in imported.notes:
        click.echo(f"{file}:{note.line}:{note.column}: {note.severity}: {note.message}", err=True)
    model, diagnostics = check_spec(out)
    click.echo(render_text(diagnostics), nl=False, err=True)
    if model is None:
        click.echo(f"wrote {imported.path}, which does not validate", err=True)
        sys.exit(1)
    entities = sum(not e.builtin for e in model.entities)
    click.echo(
        f"wrote {imported.path}: valid ({entities} entities; {len(imported.notes)} import note(s))",
        err=True,
    )


def main() -> None:
    """Console entry point: user errors exit 1, internal errors exit 3 without a traceback."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last guard: a clear line instead of a traceback
        if debug:
            traceback.print_exc()
        click.echo(
            f"crmgen: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            err=True,
        )
        sys.exit(INTERNAL_ERROR)
