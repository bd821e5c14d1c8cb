"""Valid payloads for any generated resource, built from its ``FieldInfo``s (so every entity
of every spec can be created through the API without hand-written fixtures)."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)

# Values for the patterns the example specs use.
PATTERNS = {
    r"^[0-9]{10}([0-9]{2})?$": lambda n: f"{n:010d}",
    r"^[A-Z0-9][A-Z0-9\-]*$": lambda n: f"SKU-{n}",
    r"^INV-[0-9]{4}-[0-9]+$": lambda n: f"INV-2024-{n}",
    r"^-?[0-9]+$": lambda n: str(n),
}


def value(info: Any, n: int) -> Any:
    options = info.options
    kind = info.type
    if "pattern" in options:
        return PATTERNS[options["pattern"]](n)
    if kind in ("file", "image"):  # an external link (an upload is POST /api/files)
        return f"https://files.example.com/v{n}" + (".png" if kind == "image" else ".pdf")
    if kind in ("string", "text"):
        text = f"v{n}"
        return text.ljust(options.get("min_length", 0), "x")
    if kind == "email":
        return f"p{n}@example.com"
    if kind == "phone":
        return f"+1 555 {n:04d}"
    if kind == "url":
        return f"https://example.com/{n}"
    if kind == "enum":
        return options["values"][0]
    if kind == "integer":
        return max(options.get("min", 0), min(options.get("max", 10**6), 1 + n % 7))
    if kind in ("decimal", "money"):
        low = options.get("min", 0)
        return str(max(low, min(options.get("max", 10**6), 10 + n % 5)) + 0.25)
    if kind == "boolean":
        return n % 2 == 0
    if kind == "date":
        return f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}"
    if kind == "datetime":
        return f"2024-05-{1 + n % 28:02d}T10:{n % 60:02d}:00+00:00"
    if kind == "json":
        return {"n": n, "tags": ["a", "b"]}
    raise AssertionError(f"no sample for {kind}")


def payload(
    backend: Any, path: str, *, full: bool = True, user: str = "admin", depth: int = 0
) -> dict[str, Any]:
    """A valid create payload for ``path``: required fields (all writable ones when ``full``)."""
    resources = backend.gen.resources
    resource = resources.RESOURCES[path]
    data: dict[str, Any] = {}
    for info in resource.fields.values():
        if info.read_only or not (info.required or full) or info.default is not None:
            continue
        n = next(_counter)
        if info.relation:
            target = resources.BY_NAME[info.target]
            if (target is resource or depth > 3) and not info.required:
                continue
            linked = linked_record(backend, target.path, user, depth + 1)
            data[info.name] = [linked["id"]] if info.is_list else linked["id"]
        else:
            data[info.name] = value(info, n)
    return data


def linked_record(backend: Any, path: str, user: str, depth: int) -> dict[str, Any]:
    """A record ``user`` may link to: made by them when their role may create one (links
    must be within the user's read rule), else by the admin."""
    data = payload(backend, path, full=False, user=user, depth=depth)
    url = f"/api/{path}?confirm_duplicate=true"  # sample values look alike
    response = backend.client.post(url, json=data, headers=backend.as_user(user))
    if response.status_code == 403:
        return create(backend, path, full=False, depth=depth)
    assert response.status_code == 201, (path, data, response.text)
    return dict(response.json())


def create(
    backend: Any,
    path: str,
    *,
    full: bool = True,
    user: str = "admin",
    depth: int = 0,
    **values: Any,
) -> dict[str, Any]:
    """Create a record through the API (as ``user``); returns its JSON. A likely duplicate
    (sample values look alike) is created all the same (``?confirm_duplicate=true``)."""
    data = payload(backend, path, full=full, user=user, depth=depth)
    data.update(values)
    url = f"/api/{path}?confirm_duplicate=true"
    response = backend.client.post(url, json=data, headers=backend.as_user(user))
    assert response.status_code == 201, (path, data, response.text)
    return response.json()


def move(backend: Any, path: str, record_id: int, *states: str, user: str = "manager") -> Any:
    """Move a record through its workflow one state a request (the reference CRM's deal
    pipeline: lead -> proposal -> won); returns the last answer's JSON."""
    found: Any = None
    for state in states:
        response = backend.client.patch(
            f"/api/{path}/{record_id}", json={"stage": state}, headers=backend.as_user(user)
        )
        assert response.status_code == 200, (state, response.text)
        found = response.json()
    return found


# the reference CRM's deal pipeline: the moves from a new lead to each stage
DEAL_ROUTE = {
    "lead": (),
    "qualification": ("qualification",),
    "proposal": ("proposal",),
    "negotiation": ("proposal", "negotiation"),
    "won": ("proposal", "won"),
    "lost": ("lost",),
}


def deal_in(backend: Any, stage: str, *, full: bool = False, **values: Any) -> dict[str, Any]:
    """A reference CRM deal (created by the admin as a lead) moved to ``stage`` the pipeline's
    way, by a manager."""
    made = create(backend, "deals", full=full, **values)
    moved = move(backend, "deals", made["id"], *DEAL_ROUTE[stage])
    return dict(moved or made)
