"""The reply of an ``http`` step with ``into``, readable field by field in later steps.

``reply.status`` (the HTTP status), ``reply.ok`` (true for 2xx), ``reply.headers`` (lower-case
names) and ``reply.body``: the decoded JSON, where an object's fields read as attributes
(``reply.body.company.name``) and lists by index (``reply.body.items[0].title``, compiled to
``item``); a missing field or index reads as None. A reply that is not JSON has its text as
``body``. ``unwrap`` turns these values back into plain JSON before they are stored in a
record or sent on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson


class JsonObject:
    """A JSON object whose fields read as attributes (a field named like a method still reads
    the field: there are no methods)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_fields", {str(k): wrap(v) for k, v in fields.items()})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._fields.get(name)

    def __getitem__(self, name: Any) -> Any:
        return self._fields.get(str(name))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a reply is read-only")

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __bool__(self) -> bool:
        return bool(self._fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JsonObject):
            other = unwrap(other)
        return bool(unwrap(self) == other)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return orjson.dumps(unwrap(self)).decode("utf-8")

    __repr__ = __str__


def wrap(value: Any) -> Any:
    """JSON data with its objects readable by attribute (lists stay lists of wrapped values)."""
    if isinstance(value, JsonObject):
        return value
    if isinstance(value, Mapping):
        return JsonObject(value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def unwrap(value: Any) -> Any:
    """``wrap``'s opposite: plain dicts and lists (any other value as it is)."""
    if isinstance(value, Reply):
        return {"status": value.status, "headers": value.headers, "body": unwrap(value.body)}
    if isinstance(value, JsonObject):
        return {k: unwrap(v) for k, v in value._fields.items()}
    if isinstance(value, Mapping):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unwrap(v) for v in value]
    return value


def item(value: Any, key: Any) -> Any:
    """``value[key]`` of an expression: a list's element (negative counts from the end) or an
    object's field; None when there is no such element."""
    if isinstance(value, (list, tuple, str)):
        if isinstance(key, bool) or not isinstance(key, int) or not -len(value) <= key < len(value):
            return None
        return value[key]
    if isinstance(value, (JsonObject, Mapping)):
        return value[key] if not isinstance(value, Mapping) else value.get(key)
    return None


class Reply:
    """What an ``http`` step with ``into`` keeps: ``status``, ``ok``, ``headers``, ``body``."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], raw: bytes) -> None:
        self.status = status
        self.headers = JsonObject({k.lower(): v for k, v in headers.items()})
        text = raw.decode("utf-8", "replace")
        try:
            self.body: Any = wrap(orjson.loads(raw))  # nesting is capped (no RecursionError)
        except ValueError:
            self.body = text

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __str__(self) -> str:
        return str(self.body)
