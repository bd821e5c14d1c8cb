"""One's own account: ``/account`` (one's name, the password, the e-mail, two-factor sign-in and
one's sessions: ``web.two_factor``) and the page of the mailed e-mail-change link,
``/email-change/<token>``.

The same functions as ``POST /api/auth/password``, ``/api/auth/email`` and
``/api/auth/email/confirm`` (``crmgen_runtime.profile``). The link's page confirms only on a POST (its button),
so a mail scanner that opens the link changes nothing.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import auth, auth_routes, credentials, passwords, profile
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import two_factor
from crmgen_runtime.web.auth_pages import LOCALE_COOKIE_AGE, password_error
from crmgen_runtime.web.site import (
    LOCALE_COOKIE,
    Translate,
    client_ip,
    csrf_ok,
    login_redirect,
    read_form,
    redirect,
    signed_in_form,
    site_of,
    translator_of,
)

NOTICES = {
    "password": "password_now_changed",
    "name": "name_now_changed",
    "locale": "language_now_changed",
    "two_factor_off": "two_factor_now_off",
    "session_ended": "session_now_ended",
}


def _problem(exc: ApiError, t: Translate) -> str:
    """An error of ``profile`` in the user's words."""
    if exc.code == "wrong_password":
        return t("wrong_password")
    if exc.status == 409:
        return t("email_taken")
    if exc.status == 423:
        return t("locked")
    if exc.status == 429:
        return t("email_change_too_many")
    if exc.status == 422 and "email" in exc.fields:
        same = exc.fields["email"] == "This is your e-mail already."
        return t("email_same" if same else "invalid_not_email")
    return exc.message


async def full_page(
    request: Request, user: CurrentUser, *, status: int = 200, **context: Any
) -> Response:
    """The account page with what is read from the database (two-factor, sessions, name)."""
    site = site_of(request)
    token = credentials.request_token(request.scope)
    found = await run_in_threadpool(
        two_factor.account_context, site.catalog, request.app.state.db, user.id, token
    )
    return _page(request, user, status=status, **found, **context)


def _page(request: Request, user: CurrentUser, *, status: int = 200, **context: Any) -> Response:
    t = translator_of(request)
    full = {
        "two_factor": None,
        "notifications": bool(site_of(request).catalog.config.notifications),
        "sessions": [],
        "two_factor_problem": None,
        "name_problem": None,
        "intro": t("account_intro").format(email=user.email),
        "rule": t("password_too_short").format(min=passwords.PASSWORD_MIN_LENGTH),
        "notice": None,
        "password_problem": None,
        "email_problem": None,
        "new_email": "",
        **context,
    }
    return site_of(request).render(request, "account.html", full, user=user, status=status)


async def account_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    key = NOTICES.get(request.query_params.get("done", ""))
    return await full_page(request, user, notice=translator_of(request)(key) if key else None)


async def password_form(request: Request) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    t = translator_of(request)
    new = form.get("password", "")
    problem = password_error(new, form.get("password_again", ""), t)
    if problem is not None:
        return await full_page(request, user, status=422, password_problem=problem)
    try:
        await run_in_threadpool(
            profile.change_password,
            site_of(request).catalog,
            request.app.state.db,
            user,
            form.get("current_password", ""),
            new,
            credentials.request_token(request.scope),
            (client_ip(request), request.headers.get("user-agent")),
        )
    except ApiError as exc:
        return await full_page(request, user, status=exc.status, password_problem=_problem(exc, t))
    return redirect(request, "/account?done=password")


async def email_form(request: Request) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    t = translator_of(request)
    new = form.get("email", "").strip()
    try:
        if not new:
            raise ApiError(422, "validation_error", fields={"email": ""})
        await run_in_threadpool(
            profile.request_email_change,
            site_of(request).catalog,
            request.app.state.db,
            user,
            new,
            form.get("password", ""),
            auth_routes.public_url(request),
            (client_ip(request), request.headers.get("user-agent")),
            auth.reset_limits(site_of(request).catalog, request.app),
        )
    except ApiError as exc:
        problem = _problem(exc, t)
        return await full_page(
            request, user, status=exc.status, email_problem=problem, new_email=new
        )
    return await full_page(request, user, notice=t("email_change_sent").format(email=new))


async def name_form(request: Request) -> Response:
    """One's own name (any signed-in user, whatever the User entity's update rule says)."""
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    try:
        await run_in_threadpool(
            profile.change_name,
            site_of(request).catalog,
            request.app.state.db,
            user,
            form.get("name", ""),
            (client_ip(request), request.headers.get("user-agent")),
        )
    except ApiError as exc:
        problem = next(iter(exc.fields.values()), exc.message)
        return await full_page(request, user, status=exc.status, name_problem=problem)
    return redirect(request, "/account?done=name")


async def locale_form(request: Request) -> Response:
    """One's own language: kept on the account (the UI on any device, and one's mails) and in
    this browser's cookie; empty: the browser's own again."""
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    user, form = posted
    site = site_of(request)
    chosen = form.get("locale") or None
    try:
        await run_in_threadpool(
            profile.change_locale, site.catalog, request.app.state.db, user, chosen
        )
    except ApiError as exc:
        problem = next(iter(exc.fields.values()), exc.message)
        return await full_page(request, user, status=exc.status, name_problem=problem)
    response = redirect(request, "/account?done=locale")
    if chosen is None:
        response.delete_cookie(LOCALE_COOKIE, path="/")
    else:
        response.set_cookie(
            LOCALE_COOKIE,
            chosen,
            max_age=LOCALE_COOKIE_AGE,
            path="/",
            samesite="lax",
            secure=credentials.cookies_secure(request),
        )
    return response


async def email_change_page(request: Request) -> Response:
    """The mailed link: a button that confirms (POST), then the outcome."""
    site = site_of(request)
    token = request.path_params["token"]
    user = await current_user(request)
    t = translator_of(request)
    if request.method == "GET":
        return site.render(request, "email_change.html", {"token": token, "done": None}, user=user)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf", user)
    try:
        done = await run_in_threadpool(
            profile.confirm_email_change,
            site_of(request).catalog,
            request.app.state.db,
            token,
            credentials.request_token(request.scope),
            client_ip(request),
        )
    except ApiError as exc:
        problem = t("email_change_invalid") if exc.status == 400 else _problem(exc, t)
        context = {"token": token, "done": None, "problem": problem}
        return site.render(request, "email_change.html", context, user=user, status=exc.status)
    notice = t("email_changed").format(email=done["email"])
    return site.render(request, "email_change.html", {"token": token, "done": notice}, user=user)


def routes() -> list[BaseRoute]:
    return [
        Route("/account", account_page, methods=["GET"], name="ui_account"),
        Route("/account/password", password_form, methods=["POST"], name="ui_account_password"),
        Route("/account/email", email_form, methods=["POST"], name="ui_account_email"),
        Route("/account/name", name_form, methods=["POST"], name="ui_account_name"),
        Route("/account/locale", locale_form, methods=["POST"], name="ui_account_locale"),
        *two_factor.routes(),
        Route(
            "/email-change/{token}",
            email_change_page,
            methods=["GET", "POST"],
            name="ui_email_change",
        ),
    ]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
