"""Inbound webhooks (``inbound:``), checked: events other systems post to ``/hooks/<name>``.

A hook says how its events prove who sends them (``auth``: an HMAC-SHA256 signature of the body
under a secret read from the environment, or an API key of one of ``roles``), whose name its
writes carry (``run_as: {user: EMAIL}``, required with HMAC; with an API key, the key's service
user), the event's idempotency key (an expression over ``input``: an event whose key was seen
changes nothing) and its ``input`` (declared like a custom endpoint's, plain values only). One
process runs each hook's events (``on: {inbound: NAME}``, checked in ``build_processes``).
"""

from __future__ import annotations

from typing import Any

from crmgen.language.build_entities import build_field
from crmgen.language.context import Context
from crmgen.language.expressions import Opaque, Struct
from crmgen.language.model import Field, InboundHook
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path

DEFAULT_HEADER = "X-Signature"
# Input types a webhook's JSON carries (no records to pick, no uploads).
NOT_INPUT = frozenset({"file", "image"})


def input_kind(fields: tuple[Field, ...]) -> Struct:
    """What ``input`` is to the hook's expressions: its declared fields."""
    return Struct(tuple((f.name, Opaque()) for f in fields))


def _input(ctx: Context, name: str, raw: dict[str, Any], path: Path) -> tuple[Field, ...]:
    built = []
    for fname, fraw in (raw.get("input") or {}).items():
        where = path + ("input", fname)
        f = build_field(ctx, f"inbound hook {name}", fname, fraw, where)
        if f.relation is not None or f.type in NOT_INPUT:
            ctx.error(
                where,
                "inbound-input",
                f"'{fname}' ({f.type}) cannot come in a webhook's JSON: an inbound hook's input "
                "takes plain values (text, numbers, dates, phones, enums...); find records in the "
                "process with a query step",
                at_key=True,
            )
        built.append(f)
    return tuple(built)


def _run_as(ctx: Context, raw: dict[str, Any], path: Path, auth: str) -> str | None:
    run_as = raw.get("run_as")
    if auth == "api_key":
        if run_as is not None:
            ctx.error(
                path + ("run_as",),
                "inbound-run-as",
                "an API key's events run as the key's service user: remove run_as",
                at_key=True,
            )
        return None
    if run_as is None:
        ctx.error(
            path + ("auth", "hmac"),
            "inbound-run-as",
            "a signed hook needs run_as: {user: EMAIL}, the user whose name its writes carry "
            "(the audit log, owners, 'user' in its process)",
            at_key=True,
        )
        return None
    user = str(run_as["user"])
    local, at, domain = user.partition("@")
    if not (local and at and "." in domain):
        ctx.error(path + ("run_as", "user"), "inbound-run-as", f"'{user}' is not an e-mail address")
    return user


def build_inbound(ctx: Context) -> list[InboundHook]:
    hooks = []
    for name, raw in (ctx.data.get("inbound") or {}).items():
        path: Path = ("inbound", name)
        auth_raw = raw["auth"]
        auth = "hmac" if "hmac" in auth_raw else "api_key"
        secret_env, header, roles = None, DEFAULT_HEADER, ()
        if auth == "hmac":
            secret_env = str(auth_raw["hmac"]["secret_env"])
            header = str(auth_raw["hmac"].get("header", DEFAULT_HEADER))
        else:
            roles = tuple(str(r) for r in auth_raw["api_key"]["roles"])
            keys_off = ((ctx.data.get("app") or {}).get("auth") or {}).get("api_keys") is False
            if keys_off:
                ctx.error(
                    path + ("auth", "api_key"),
                    "inbound-auth",
                    "this app has no API keys (app.auth.api_keys is false): sign the hook with "
                    "hmac, or turn keys on",
                    True,
                )
            for i, role in enumerate(roles):
                ctx.known_role(role, path + ("auth", "api_key", "roles", i))
        run_as = _run_as(ctx, raw, path, auth)
        fields = _input(ctx, name, raw, path)
        text = str(raw["idempotency"])
        offset = 1 if text.startswith("=") else 0
        text = text[offset:]
        scope = ctx.scope(input=input_kind(fields))
        key = ctx.expr(text, path + ("idempotency",), scope, offset=offset)
        if "input" not in key.names:
            ctx.error(
                path + ("idempotency",),
                "inbound-idempotency",
                "the idempotency key must come from the event: an expression over input "
                "(e.g. '= input.call_id')",
            )
        hooks.append(
            InboundHook(
                name=name,
                label=Text.of(raw.get("label"), humanize(name)),
                auth=auth,
                input=fields,
                idempotency=key,
                position=ctx.pos(path, True),
                secret_env=secret_env,
                header=header,
                run_as=run_as,
                roles=roles,
            )
        )
    return hooks
