"""Consent fields: a boolean field with ``consent: true`` in the spec keeps when and how it last
changed, in the two read-only fields the generator adds beside it: ``<name>_at`` (the time) and
``<name>_source`` (where the change came from).

The row writers (``writes.insert_row``, ``update_row``) call ``stamp`` on every create and update:
a consent field given a value on create, or changed on update, gets both set. The source is the
request's channel, told by the entry points with ``source(...)``: ``form`` (a public form),
``user`` (the web UI's forms and boards), ``import`` (a spreadsheet import), ``process`` (a
process step); anything else (the REST API, a custom endpoint) is ``api``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from crmgen_runtime.tables import utcnow

if TYPE_CHECKING:
    from crmgen_runtime.resources import Resource

T = TypeVar("T")
SOURCES = ("api", "form", "user", "import", "process")
AT, SOURCE = "_at", "_source"  # the suffixes of a consent field's companions
_source: ContextVar[str] = ContextVar("crmgen_consent_source", default="api")


@contextmanager
def source(name: str) -> Iterator[None]:
    """The writes inside the block change consent from ``name`` (one of ``SOURCES``)."""
    token = _source.set(name)
    try:
        yield
    finally:
        _source.reset(token)


def within(name: str, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` with its writes coming from ``name`` (for ``run_in_threadpool``)."""
    with source(name):
        return function(*args)


def current() -> str:
    """Where the writes now running come from."""
    return _source.get()


def fields(resource: Resource) -> list[str]:
    """The consent fields of ``resource``."""
    return [name for name, info in resource.fields.items() if info.options.get("consent")]


def stamp(resource: Resource, values: dict[str, Any], before: Mapping[str, Any] | None) -> None:
    """Set the time and source of each consent field that ``values`` gives (on create: a value;
    on update, ``before`` the stored row: a different value)."""
    for name in fields(resource):
        if name not in values:
            continue
        new = values[name]
        if before is None and new is None:
            continue
        if before is not None and before.get(name) == new:
            continue
        values[name + AT] = utcnow()
        values[name + SOURCE] = current()
