"""A step kind from another package, end to end: tests/plugins/crmgen_slack_step.

The plugin is "installed" without touching the environment: a minimal ``.dist-info`` (METADATA
and entry_points.txt, what pip would write) goes into a temporary folder, and crmgen runs in a
subprocess whose PYTHONPATH holds that folder and the plugin's source; importlib.metadata finds
the entry point there. This process never loads the plugin, so the step registry (and the
cached JSON Schema) of the other tests stay built-in only. The generated app is plain Python
(the plugin's code is rendered into it), so it is imported and run here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime.db import Database
from crmgen_runtime.principal import CurrentUser
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from crmgen.language import load_spec
from crmgen.language.steps import REGISTRY, StepKind
from crmgen.render import GenerateError
from crmgen.render.processes import compile_process
from tests.app_settings import app_settings_env
from tests.backend.conftest import TestUsers as HeaderUsers
from tests.generated_apps import import_modules

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = Path(__file__).parent / "crmgen_slack_step"

SPEC = """\
app:
  name: slack_app
  title: Slack
roles:
  admin: {superuser: true}
  staff: Staff
entities:
  Deal:
    fields:
      name: {type: string, required: true, max_length: 200}
    permissions:
      staff: all
processes:
  announce:
    on: {create: Deal, when: after}
    steps:
      - if: record.name != 'quiet'
        then:
          - slack: {channel: '#sales', text: 'Deal {{ record.name }} by {{ user.name }}'}
"""


def _install(site: Path) -> None:
    """What ``pip install`` would leave for the entry point: METADATA and entry_points.txt."""
    info = site / "crmgen_slack_step-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crmgen-slack-step\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[crmgen.steps]\nslack = crmgen_slack_step:SLACK\n")


def _crmgen(*args: str, cwd: Path, site: Path | None) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT)] + ([str(site), str(PLUGIN)] if site is not None else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, "-m", "crmgen", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    _install(folder)
    return folder


def _spec(folder: Path, text: str = SPEC) -> Path:
    path = folder / "spec.yaml"
    path.write_text(text)
    return path


# -- schema and validation ------------------------------------------------------------------


def test_schema_has_the_plugin_step(site: Path, tmp_path: Path) -> None:
    result = _crmgen("schema", cwd=tmp_path, site=site)
    assert result.returncode == 0, result.stderr
    step = json.loads(result.stdout)["$defs"]["step"]
    assert step["properties"]["slack"]["required"] == ["channel", "text"]
    assert {"required": ["slack"]} in step["oneOf"]
    # without the plugin: only the built-in kinds
    bare = json.loads(_crmgen("schema", cwd=tmp_path, site=None).stdout)["$defs"]["step"]
    assert "slack" not in bare["properties"]


def test_validate_accepts_the_plugin_step(site: Path, tmp_path: Path) -> None:
    result = _crmgen("validate", str(_spec(tmp_path)), cwd=tmp_path, site=site)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_the_plugin_the_step_is_an_unknown_key(tmp_path: Path) -> None:
    result = _crmgen("validate", str(_spec(tmp_path)), cwd=tmp_path, site=None)
    assert result.returncode == 1
    assert (
        "spec.yaml:19:13: error: unknown key 'slack' in processes.announce.steps.0.then.0"
        in result.stderr
    )


@pytest.mark.parametrize(
    "step,expected",
    [
        pytest.param(
            "{text: 'hello'}",
            "spec.yaml:19:13: error: missing required key 'channel' in processes.announce.steps.0.then.0.slack",
            id="missing-channel",
        ),
        pytest.param(
            "{channel: '#sales', text: 'Deal {{ recrd.name }}'}",
            "spec.yaml:19:55: error: the template uses unknown name 'recrd'; did you mean 'record'?",
            id="unknown-name-in-template",
        ),
        pytest.param(
            "{channel: '#sales', text: 'Deal {{ input.x }}'}",
            "spec.yaml:19:55: error: the template uses unknown name 'input'",
            id="name-the-trigger-does-not-give",
        ),
        pytest.param(
            "{channel: sales, text: 'x'}",
            "spec.yaml:19:30: error: 'sales' is not a Slack channel",
            id="plugin-own-check",
        ),
    ],
)
def test_validate_locates_bad_uses(site: Path, tmp_path: Path, step: str, expected: str) -> None:
    text = SPEC.replace(
        "{channel: '#sales', text: 'Deal {{ record.name }} by {{ user.name }}'}", step
    )
    assert text != SPEC
    result = _crmgen("validate", str(_spec(tmp_path, text)), cwd=tmp_path, site=site)
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


# -- generation and run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slack")
    result = _crmgen(
        "generate", str(_spec(folder)), "-o", str(folder / "out"), cwd=folder, site=site
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "out"


def test_generate_renders_the_plugin_template(generated: Path) -> None:
    source = (generated / "slack_app" / "processes.py").read_text()
    assert "\nimport unicodedata\n" in source  # the kind's imports, once
    assert source.count("import unicodedata") == 1
    assert '"https://slack.com/api/chat.postMessage"' in source
    assert (
        '"Deal {{ record.name }} by {{ user.name }}"' in source
    )  # a literal, rendered at run time
    compile(source, "processes.py", "exec")


def test_the_apps_docs_describe_the_plugin_step(generated: Path) -> None:
    processes = (generated / "docs" / "processes.md").read_text(encoding="utf-8")
    assert (
        "A `slack` step: post a message to a Slack channel \\(through the outbox\\)." in processes
    )


def test_without_the_plugin_generate_fails(tmp_path: Path) -> None:
    result = _crmgen(
        "generate", str(_spec(tmp_path)), "-o", str(tmp_path / "out"), cwd=tmp_path, site=None
    )
    assert result.returncode == 1
    assert "unknown key 'slack'" in result.stdout + result.stderr
    assert not (tmp_path / "out" / "slack_app").exists()


@pytest.fixture
def app(generated: Path, tmp_path: Path) -> Iterator[tuple[Any, Any, TestClient]]:
    modules = import_modules(generated, "slack_app")
    models = modules["models"]
    database = Database(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    models.Base.metadata.create_all(database.engine)
    with database.session() as session:
        user = models.User(email="staff@example.com", name="Stäff", roles=["staff"])
        session.add(user)
        session.flush()
        users = {
            "staff": CurrentUser(
                id=user.id,
                email=user.email,
                name=user.name,
                roles=frozenset({"staff"}),
                superuser=False,
                extra={},
            )
        }
    client = TestClient(
        modules["app"].create_app(
            modules["app"].startup_settings(app_settings_env()),
            database=database,
            middleware=[Middleware(HeaderUsers, users=users)],
        ),
        raise_server_exceptions=False,
    )
    try:
        yield models, database, client
    finally:
        client.close()
        database.dispose()


def test_the_generated_step_runs(app: tuple[Any, Any, TestClient]) -> None:
    models, database, client = app
    name = 'Big {{ 7 * 7 }} "deal" cafe\u0301'  # a template in the data stays text; NFC applied
    for value in (name, "quiet"):
        response = client.post("/api/deals", json={"name": value}, headers={"X-Test-User": "staff"})
        assert response.status_code == 201, response.text
    with database.engine.connect() as connection:
        rows = connection.execute(
            sa.select(models.CrmOutboxMessage.kind, models.CrmOutboxMessage.payload)
        ).all()
    assert len(rows) == 1  # 'quiet' skipped by the if around the step
    kind, payload = rows[0]
    assert kind == "http"
    assert (
        payload["method"] == "POST" and payload["url"] == "https://slack.com/api/chat.postMessage"
    )
    assert payload["json"] == {
        "channel": "#sales",
        "text": 'Deal Big {{ 7 * 7 }} "deal" caf\u00e9 by Stäff',
    }


# -- the template contract, in-process (a kind registered for one test only) ------------------


@dataclasses.dataclass(frozen=True)
class _Probe:
    value: Any
    text: Any
    into: str
    kind: str = "probe"


def _probe_process(template: str) -> tuple[Any, Any, StepKind]:
    spec = load_spec(ROOT / "tests" / "processes" / "notes.yaml")
    bump = next(p for p in spec.processes if p.name == "bump")
    value = bump.steps[0].values[0][1]  # '= coalesce(record.hits, 0) + 100'
    message = bump.steps[1].message  # 'bumped {{ record.title }}'
    step = _Probe(value, message, "list")  # 'list' is a builtin: the local becomes list_
    kind = StepKind("probe", "a test kind", {}, lambda raw, at: None, template=template)
    return spec, dataclasses.replace(bump, steps=(step,)), kind


def test_inline_template_and_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    spec, process, kind = _probe_process(
        "{{ declare(step.into) }} = {{ expr(step.value) }}\n"
        "{% if step.into %}\n"
        "run.log({{ lit('info') }}, {{ text(step.text) }} + str({{ declare(step.into) }}))\n"
        "{% endif %}\n"
    )
    monkeypatch.setitem(REGISTRY, "probe", kind)
    source = compile_process(spec, process).source
    assert "    list_ = fn.evaluate(lambda: fn.coalesce(record.hits, 0) + 100)\n" in source
    assert (
        '    run.log("info", run.text("bumped {{ record.title }}", {"record": record}) + str(list_))\n'
        in source
    )


@pytest.mark.parametrize(
    "template,message",
    [
        pytest.param("", "has no code generator", id="no-template"),
        pytest.param(
            "run.log('info', {{ lit(step.into) }}",
            "its template gave invalid Python",
            id="bad-python",
        ),
        pytest.param("{{ step.nothing }}", "its template failed: UndefinedError", id="undefined"),
        pytest.param(
            "{{ expr(step.into) }}", "expr() takes a Value or an Expression", id="expr-of-a-string"
        ),
    ],
)
def test_template_problems_are_clear(
    monkeypatch: pytest.MonkeyPatch, template: str, message: str
) -> None:
    spec, process, kind = _probe_process(template)
    monkeypatch.setitem(REGISTRY, "probe", kind)
    with pytest.raises(GenerateError, match="process bump") as error:
        compile_process(spec, process)
    assert message in str(error.value)
