"""``web.public_forms``: the page's framing policy and the origins a post may come from."""

from __future__ import annotations

from crmgen_runtime.web import public_forms
from starlette.requests import Request

FORM = {"origins": ["https://www.example.com"]}


def request(origin: str | None, host: str = "crm.example.com") -> Request:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return Request({"type": "http", "method": "POST", "path": "/f/x", "headers": headers})


def test_the_page_may_be_framed_by_the_app_and_the_forms_origins_only() -> None:
    policy = public_forms.frame_policy(FORM)
    assert "frame-ancestors 'self' https://www.example.com;" in policy
    assert "'none'" not in policy.split("frame-ancestors")[1].split(";")[0]
    assert "script-src 'self'" in policy  # the rest of the UI's policy stays


def test_posts_come_from_no_browser_the_app_itself_or_the_forms_origins() -> None:
    assert public_forms.origin_allowed(request(None), FORM)
    assert public_forms.origin_allowed(request("https://crm.example.com"), FORM)
    assert public_forms.origin_allowed(request("https://WWW.example.com"), FORM)
    assert not public_forms.origin_allowed(request("https://evil.example"), FORM)
    assert not public_forms.origin_allowed(request("null"), FORM)
