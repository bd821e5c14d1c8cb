"""Outgoing HTTP requests that cannot reach the app's own network (SSRF protection).

Every HTTP request the app makes for the spec (``http`` steps, with or without ``into``, and the
outbox's webhooks, Telegram messages, SMS gateways and ``http`` messages) goes through
``Egress.open``. Before a connection is made the host name is resolved and every address it
resolves to is checked: a loopback, private, link-local (``169.254.169.254``), shared,
reserved, multicast or unspecified address is refused (``Refused``) and nothing is sent. The
connection is then made to the address that was checked, so a name that resolves to a public
address once and to a private one a moment later (DNS rebinding) gains nothing. Redirects open
new connections through the same check. Proxies from the environment are not used (a proxy
would fetch what the check refuses).

A host allowed by name (the spec's ``app.allow_hosts``, and the environment variable
``OUTBOUND_ALLOW_HOSTS``: names separated by commas, read at each call) is connected to as it
is, whatever it resolves to: an intranet service the CRM must reach. An integration's own
``allow_hosts`` allow hosts for the requests made through that integration only
(``Egress.with_hosts``).
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import urllib.request
from collections.abc import Iterable
from typing import Any

ENV = "OUTBOUND_ALLOW_HOSTS"


class Refused(OSError):
    """The request would reach a non-public address of a host that is not allowed by name."""


def host_key(host: str) -> str:
    """A host name as it is compared: lower case, without brackets or a final dot."""
    return host.strip().lower().strip("[]").rstrip(".")


def refusal(address: str) -> str | None:
    """Why ``address`` (an IP address) may not be reached, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


class Egress:
    """The outgoing-request policy of one app: the hosts allowed by name (``hosts``)."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self.hosts = frozenset(host_key(h) for h in hosts if h)

    def with_hosts(self, hosts: Iterable[str]) -> Egress:
        """This policy with ``hosts`` allowed by name too (an integration's own
        ``allow_hosts``: they hold for requests through that integration only)."""
        extra = frozenset(host_key(h) for h in hosts if h) - self.hosts
        return Egress(self.hosts | extra) if extra else self

    def allows(self, host: str) -> bool:
        """Whether ``host`` is allowed by name (the spec's list or ``OUTBOUND_ALLOW_HOSTS``)."""
        extra = {host_key(h) for h in os.environ.get(ENV, "").split(",") if h.strip()}
        key = host_key(host)
        return key in self.hosts or key in extra

    def create_connection(
        self,
        address: tuple[str, int],
        timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        """``socket.create_connection`` that checks every address of the host first and then
        connects to a checked address (never resolving the name again)."""
        host, port = address
        if self.allows(host):
            return socket.create_connection(address, timeout, source_address)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if not infos:
            raise OSError(f"{host} has no address")
        for *_, sockaddr in infos:
            why = refusal(str(sockaddr[0]))
            if why is not None:
                shown = host if host == sockaddr[0] else f"{host} ({sockaddr[0]})"
                raise Refused(
                    f"refused: {shown} is {why}; allow the host by name in app.allow_hosts "
                    f"(or {ENV}) to reach it"
                )
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        assert error is not None
        raise error

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener for http and https only, through this policy, without proxies."""
        opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler({}),
            urllib.request.UnknownHandler(),
            _HttpHandler(self),
            _HttpsHandler(self),
            urllib.request.HTTPDefaultErrorHandler(),
            _Redirects(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        return opener

    def open(self, request: urllib.request.Request, timeout: float) -> Any:
        """``urlopen(request)`` through this policy; a refused address raises ``URLError``
        whose ``reason`` is a ``Refused``."""
        return self.opener().open(request, timeout=timeout)


def refused(exc: BaseException) -> Refused | None:
    """The ``Refused`` behind ``exc`` (a ``URLError`` from ``Egress.open``), if any."""
    reason = getattr(exc, "reason", exc)
    return reason if isinstance(reason, Refused) else None


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects to http and https only (each new connection is checked again)."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        if not newurl.lower().startswith(("http://", "https://", "/")):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, egress: Egress) -> None:
        super().__init__()
        self.egress = egress

    def http_open(self, req: Any) -> Any:
        def connection(host: str, **options: Any) -> http.client.HTTPConnection:
            made = http.client.HTTPConnection(host, **options)
            made._create_connection = self.egress.create_connection  # type: ignore[attr-defined]
            return made

        return self.do_open(connection, req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, egress: Egress) -> None:
        super().__init__()
        self.egress = egress

    def https_open(self, req: Any) -> Any:
        def connection(host: str, **options: Any) -> http.client.HTTPSConnection:
            made = http.client.HTTPSConnection(host, **options)
            made._create_connection = self.egress.create_connection  # type: ignore[attr-defined]
            return made

        return self.do_open(connection, req)


DEFAULT = Egress()
