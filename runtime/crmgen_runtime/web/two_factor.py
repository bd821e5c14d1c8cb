"""Two-factor sign-in in the web UI: the sign-in's second step, setting up an authenticator app,
recovery codes, and one's sessions on the account page.

The second step of ``/login`` carries a short-lived token (``auth.SecondStep``) in a hidden
field, never the password. A user whose role requires two-factor sign-in and who has not set
it up gets the setup page from ``/login``: the QR code, then a first code, then the recovery
codes and their session. Signed-in users turn it on and off and renew their recovery codes on
``/account``, where they also see their sessions and end any of them. Every form is a POST with
the CSRF token; the work is ``account_security``'s (the same as the API's).
"""

from __future__ import annotations

import io
from typing import Any

import segno
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import account_security, auth, credentials
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import (
    client_ip,
    csrf_ok,
    login_redirect,
    read_form,
    redirect,
    safe_next,
    secure,
    signed_in_form,
    site_of,
    translator_of,
)


def qr_svg(uri: str) -> Markup:
    """The QR code of ``uri`` as inline SVG (segno writes shapes only, no text of the URI)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", xmldecl=False, scale=4, svgclass="qr", title=None
    )
    return Markup(out.getvalue().decode("ascii"))  # shapes made here: no input text in it


def _client(request: Request) -> tuple[str | None, str | None]:
    return client_ip(request), request.headers.get("user-agent")


async def second_step_page(
    request: Request, step: auth.SecondStep, next_url: str, email: str
) -> Response:
    """What ``/login`` answers when the password was right and a second factor is wanted."""
    site = site_of(request)
    if step.status == 401:
        context = {"token": step.token, "next": next_url, "error": None}
        return site.render(request, "login_code.html", context)
    return await _setup_page(request, None, step.token, next_url, email)


async def _setup_page(
    request: Request, user: Any, token: str | None, next_url: str, email: str, **more: Any
) -> Response:
    site = site_of(request)
    again = bool(more.get("error"))  # a mistyped code: the same secret again
    made = await run_in_threadpool(
        account_security.start_setup, site.catalog, request.app.state.db, user, token, again
    )
    context = {
        "token": token or "",
        "next": next_url,
        "secret": made.secret,
        "qr": qr_svg(made.uri),
        "required": token is not None,
        "error": None,
        **more,
    }
    return site.render(request, "two_factor_setup.html", context, user=user)


def _codes_page(request: Request, codes: list[str], next_url: str, user: Any = None) -> Response:
    context = {"codes": codes, "next": next_url}
    response = site_of(request).render(request, "recovery_codes.html", context, user=user)
    response.headers["Cache-Control"] = "no-store"
    return response


async def login_code(request: Request) -> Response:
    """The second step: the token and a code; a session and on to ``next``."""
    site = site_of(request)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf")
    token, next_url = form.get("token", ""), safe_next(form.get("next"))
    ip, agent = _client(request)
    try:
        session_token = await run_in_threadpool(
            auth.finish_sign_in,
            site.catalog,
            request.app.state.db,
            token,
            form.get("code", ""),
            ip,
            agent,
        )
    except ApiError as exc:
        t = translator_of(request)
        if exc.code == "invalid_token":
            context = {"next": next_url, "email": "", "error": t("two_factor_expired")}
            return site.render(request, "login.html", context, status=401)
        error = t("locked") if exc.status == 423 else t("two_factor_wrong_code")
        detail = exc.message if exc.status == 423 else ""
        context = {"token": token, "next": next_url, "error": error, "detail": detail}
        return site.render(request, "login_code.html", context, status=exc.status)
    response = RedirectResponse(next_url, status_code=303)
    credentials.set_session_cookie(request, response, session_token)
    return secure(request, response)


async def confirm_form(request: Request) -> Response:
    """A first code from the app: two-factor goes on; the recovery codes (once). From the
    sign-in (a required setup: the hidden token) it also signs in."""
    site = site_of(request)
    form = await read_form(request)
    user = await current_user(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf", user)
    token = form.get("token") or None
    if token is None and user is None:
        return login_redirect(request)
    next_url = safe_next(form.get("next")) if token else "/account"
    try:
        codes, started = await run_in_threadpool(
            account_security.confirm_setup,
            site.catalog,
            request.app.state.db,
            None if token else user,
            token,
            form.get("code", ""),
            _client(request),
        )
    except ApiError as exc:
        t = translator_of(request)
        if exc.code == "invalid_token":
            context = {"next": next_url, "email": "", "error": t("two_factor_expired")}
            return site.render(request, "login.html", context, status=401)
        problem = t("two_factor_wrong_code") if exc.status == 422 else exc.message
        return await _setup_page(request, user, token, next_url, "", error=problem)
    response = _codes_page(request, codes, next_url, user)
    if started is not None:
        credentials.set_session_cookie(request, response, started)
    return response


async def setup_form(request: Request) -> Response:
    """``/account``'s "turn on": a new secret and its QR code."""
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, _form = posted
    try:
        return await _setup_page(request, user, None, "/account", user.email)
    except ApiError:  # on already
        return redirect(request, "/account")


async def disable_form(request: Request) -> Response:
    site = site_of(request)
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    try:
        await run_in_threadpool(
            account_security.disable,
            site.catalog,
            request.app.state.db,
            user,
            form.get("password", ""),
            form.get("code", ""),
            _client(request),
        )
    except ApiError as exc:
        return await _account_with_problem(request, user, exc)
    return redirect(request, "/account?done=two_factor_off")


async def recovery_form(request: Request) -> Response:
    site = site_of(request)
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    try:
        codes = await run_in_threadpool(
            account_security.new_codes,
            site.catalog,
            request.app.state.db,
            user,
            form.get("password", ""),
            _client(request),
        )
    except ApiError as exc:
        return await _account_with_problem(request, user, exc)
    return _codes_page(request, codes, "/account", user)


async def end_session_form(request: Request) -> Response:
    site = site_of(request)
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, _form = posted
    try:
        session_id = int(request.path_params["id"])
        await run_in_threadpool(
            account_security.end_session, site.catalog, request.app.state.db, user.id, session_id
        )
    except (ValueError, ApiError):
        return site.error_page(request, 404, "not_found", user)
    return redirect(request, "/account?done=session_ended")


async def _account_with_problem(request: Request, user: Any, exc: ApiError) -> Response:
    from crmgen_runtime.web import account  # the account page shows the problem

    t = translator_of(request)
    if exc.code == "wrong_password":
        problem = t("wrong_password")
    elif exc.status == 422:
        problem = t("two_factor_wrong_code")
    elif exc.status == 423:
        problem = t("locked")
    elif exc.status == 403:
        problem = t("two_factor_required_by_role")
    else:
        problem = exc.message
    return await account.full_page(request, user, status=exc.status, two_factor_problem=problem)


def account_context(catalog: Any, database: Any, user_id: int, token: str | None) -> dict[str, Any]:
    """What ``/account`` shows of two-factor sign-in and sessions (blocking)."""
    return {
        "two_factor": account_security.two_factor_state(catalog, database, user_id),
        "sessions": account_security.live_sessions(catalog, database, user_id, token),
    }


def routes() -> list[BaseRoute]:
    return [
        Route("/login/code", login_code, methods=["POST"], name="ui_login_code"),
        Route("/two-factor/confirm", confirm_form, methods=["POST"], name="ui_two_factor_confirm"),
        Route("/account/two-factor/setup", setup_form, methods=["POST"], name="ui_2fa_setup"),
        Route("/account/two-factor/disable", disable_form, methods=["POST"], name="ui_2fa_disable"),
        Route(
            "/account/two-factor/recovery-codes",
            recovery_form,
            methods=["POST"],
            name="ui_2fa_recovery_codes",
        ),
        Route(
            "/account/sessions/{id}/end",
            end_session_form,
            methods=["POST"],
            name="ui_account_session_end",
        ),
    ]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
