"""A crmgen step kind: ``- slack: {channel: '#sales', text: 'Deal {{ record.name }} won'}``.

The step posts ``text`` (a message template, rendered when the process runs) to ``channel``
through the app's outbox, as an ``http`` message to Slack's ``chat.postMessage`` (the URL can
be changed with the ``SLACK_API_URL`` environment variable of the generated app).

Three parts, as for every step kind: the schema fragment (what ``crmgen schema`` and the
validator know), the build function (checks beyond the schema, here the template's names;
returns a frozen dataclass) and the template (``templates/slack.py.j2``: the Python of one
step in the generated ``processes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmgen.language.build_steps import Template
from crmgen.language.steps import TEMPLATE, StepKind, obj


@dataclass(frozen=True)
class SlackStep:
    channel: str
    text: Template
    kind: str = "slack"


def build(step: dict[str, Any], at: Any) -> SlackStep:
    """``step`` is the whole step mapping (schema-valid); ``at`` is where it is: ``at.s`` the
    step context (names in scope, ``template``, ``value`` ...), ``at.sub(key)`` a key's path,
    ``at.ctx.error(path, code, message)`` reports a located problem."""
    raw = step["slack"]
    channel = raw["channel"]
    if not channel.startswith(("#", "@", "C", "U")):
        at.ctx.error(
            at.sub("channel"),
            "step-slack",
            f"'{channel}' is not a Slack channel: write '#name', '@user' or a channel id",
        )
    return SlackStep(channel, at.s.template(raw["text"], at.sub("text")))


SLACK = StepKind(
    name="slack",
    summary="post a message to a Slack channel (through the outbox)",
    schema=obj(
        ("channel", "text"),
        channel={
            "type": "string",
            "minLength": 1,
            "description": "'#channel', '@user' or a channel id",
        },
        text=TEMPLATE,
    ),
    build=build,
    example="- slack: {channel: '#sales', text: 'Deal {{ record.name }} won'}",
    template="slack.py.j2",
    template_dir=Path(__file__).parent / "templates",
    imports=("import unicodedata",),
)
