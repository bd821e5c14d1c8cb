"""Signing in and out, the password reset, the locale switch and the home page.

An invitation's link opens ``/invite/<token>``: the same form of a first password.
The reset is two pages: ``/password-reset`` asks for the e-mail and always answers the same
(nothing tells whether an account exists); the mailed link opens ``/password-reset/<token>``,
where the new password is typed twice. The e-mail is written to the outbox by ``auth``.
Every handler works on the app's ``Site`` (``site_of(request)``).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import auth, auth_routes, credentials, passwords
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import my_day
from crmgen_runtime.web.site import (
    LOCALE_COOKIE,
    Translate,
    client_ip,
    csrf_ok,
    login_redirect,
    read_form,
    redirect,
    safe_next,
    secure,
    site_of,
    translator_of,
)

MAX_EMAIL_LENGTH = 320
LOCALE_COOKIE_AGE = 365 * 24 * 3600  # seconds: a chosen language is kept for a year

# The sign-in's error codes and the UI's words for them.
LOGIN_ERRORS = {
    "invalid_credentials": "bad_credentials",
    "account_locked": "locked",
    "account_inactive": "inactive",
}


async def login_page(request: Request) -> Response:
    """The sign-in form; a signed-in user goes on to ``next``."""
    site = site_of(request)
    user = await current_user(request)
    next_url = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        if user is not None:
            return redirect(request, next_url)
        notice = None
        if "reset" in request.query_params:
            notice = translator_of(request)("password_changed")
        elif "invited" in request.query_params:
            notice = translator_of(request)("invite_accepted")
        context = {"next": next_url, "email": "", "error": None, "notice": notice}
        return site.render(request, "login.html", context)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf")
    next_url = safe_next(form.get("next"))
    email, password = form.get("email", ""), form.get("password", "")
    try:
        if not email.strip() or not password:
            raise ApiError(401, "invalid_credentials")
        token = await run_in_threadpool(
            auth.sign_in,
            site.catalog,
            request.app.state.db,
            email,
            password,
            client_ip(request),
            request.headers.get("user-agent"),
        )
    except auth.SecondStep as step:
        from crmgen_runtime.web import two_factor  # the second step's pages

        return await two_factor.second_step_page(request, step, next_url, email)
    except ApiError as exc:
        error = translator_of(request)(LOGIN_ERRORS.get(exc.code, "bad_credentials"))
        detail = exc.message if exc.code == "account_locked" else ""
        context = {"next": next_url, "email": email, "error": error, "detail": detail}
        return site.render(request, "login.html", context, status=exc.status)
    response = RedirectResponse(next_url, status_code=303)
    credentials.set_session_cookie(request, response, token)
    return secure(request, response)


async def logout(request: Request) -> Response:
    """Ends the session (a POST with the CSRF token), then back to the sign-in page."""
    site = site_of(request)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf")
    token = credentials.request_token(request.scope)
    if token:
        await run_in_threadpool(auth.sign_out, site.catalog, request.app.state.db, token)
    response = RedirectResponse("/login", status_code=303)
    credentials.clear_session_cookie(response)
    return secure(request, response)


async def reset_request_page(request: Request) -> Response:
    """Ask for the e-mail of the account; mail a link if there is one, say the same anyway."""
    site = site_of(request)
    if request.method == "GET":
        return site.render(request, "password_reset.html", {"email": "", "sent": False})
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf")
    email = form.get("email", "").strip()
    if not email or len(email) > MAX_EMAIL_LENGTH:
        error = translator_of(request)("invalid_required" if not email else "invalid_not_email")
        context = {"email": email, "sent": False, "error": error}
        return site.render(request, "password_reset.html", context, status=422)
    await auth_routes.mail_reset_link(site.catalog, request, email)
    return site.render(request, "password_reset.html", {"email": email, "sent": True})


def password_error(password: str, again: str, t: Translate) -> str | None:
    """What is wrong with a new password typed twice, in the user's words; None if nothing."""
    if not password:
        return t("invalid_required")
    if len(password) < passwords.PASSWORD_MIN_LENGTH:
        return t("password_too_short").format(min=passwords.PASSWORD_MIN_LENGTH)
    if len(password) > passwords.PASSWORD_MAX_LENGTH:
        return t("password_too_long").format(max=passwords.PASSWORD_MAX_LENGTH)
    if password != again:
        return t("passwords_differ")
    return None


def new_password_page(
    request: Request,
    token: str,
    error: str | None = None,
    *,
    status: int = 200,
    invite: bool = False,
) -> Response:
    """The form of the new password; a 400 (a bad token) offers a new link instead (for an
    ``invite``: says to ask the administrator)."""
    t = translator_of(request)
    context = {
        "token": token,
        "error": error,
        "invalid_link": status == 400,
        "invite": invite,
        "action": "/invite" if invite else "/password-reset",
        "heading": "invite_heading" if invite else "new_password",
        "rule": t("password_too_short").format(min=passwords.PASSWORD_MIN_LENGTH),
    }
    return site_of(request).render(request, "password_new.html", context, status=status)


async def reset_confirm_page(request: Request) -> Response:
    """Choose a new password with the mailed token; then sign in with it."""
    site = site_of(request)
    token = request.path_params["token"]
    if request.method == "GET":
        return new_password_page(request, token)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf")
    t = translator_of(request)
    password = form.get("password", "")
    error = password_error(password, form.get("password_again", ""), t)
    if error is not None:
        return new_password_page(request, token, error, status=422)
    changed = await run_in_threadpool(
        auth.confirm_reset, site.catalog, request.app.state.db, token, password
    )
    if not changed:
        return new_password_page(request, token, t("reset_link_invalid"), status=400)
    return redirect(request, "/login?reset=done")


async def invite_page(request: Request) -> Response:
    """An invited user's first password, with the mailed token (``crmgen_runtime.invites``);
    then to the sign-in page. A used or expired invitation says so before anything is typed."""
    site = site_of(request)
    token = request.path_params["token"]
    t = translator_of(request)
    if request.method == "GET":
        usable = await run_in_threadpool(
            auth.link_usable, site.catalog, request.app.state.db, token
        )
        if not usable:
            return new_password_page(
                request, token, t("invite_link_invalid"), status=400, invite=True
            )
        return new_password_page(request, token, invite=True)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return site.error_page(request, 403, "csrf")
    password = form.get("password", "")
    error = password_error(password, form.get("password_again", ""), t)
    if error is not None:
        return new_password_page(request, token, error, status=422, invite=True)
    changed = await run_in_threadpool(
        auth.confirm_reset, site.catalog, request.app.state.db, token, password
    )
    if not changed:
        return new_password_page(request, token, t("invite_link_invalid"), status=400, invite=True)
    return redirect(request, "/login?invited=done")


async def set_locale(request: Request) -> Response:
    """Keeps the chosen language in a cookie (one of the spec's), then goes back."""
    chosen = request.query_params.get("set", "")
    response = redirect(request, safe_next(request.query_params.get("next")))
    if chosen in site_of(request).locales:
        response.set_cookie(
            LOCALE_COOKIE,
            chosen,
            max_age=LOCALE_COOKIE_AGE,
            path="/",
            samesite="lax",
            secure=credentials.cookies_secure(request),
        )
    return response


async def home(request: Request) -> Response:
    """The home page of a signed-in user: their day (``web.my_day``)."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    site = site_of(request)
    day = my_day.MyDay(site, request.app.state.db, user, site.locale_of(request))
    context = await run_in_threadpool(day.context)
    return site.render(request, "home.html", context, user=user)


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"], name="ui_home"),
        Route("/login", login_page, methods=["GET", "POST"], name="ui_login"),
        Route("/logout", logout, methods=["POST"], name="ui_logout"),
        Route("/locale", set_locale, methods=["GET"], name="ui_locale"),
        Route(
            "/password-reset", reset_request_page, methods=["GET", "POST"], name="ui_password_reset"
        ),
        Route(
            "/password-reset/{token}",
            reset_confirm_page,
            methods=["GET", "POST"],
            name="ui_password_reset_confirm",
        ),
        Route("/invite/{token}", invite_page, methods=["GET", "POST"], name="ui_invite"),
    ]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
