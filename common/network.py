"""Who is on the other end of a request: ``client_address``, the one place the web app reads a
client's IP address (login lockouts through django-axes, the join throttles, the request log).

Behind ``settings.EVALSITE_PROXY_COUNT`` trusted reverse proxies, each proxy appends the address
it received the request from to ``X-Forwarded-For`` (nginx's ``$proxy_add_x_forwarded_for``,
Caddy, Traefik and the cloud load balancers all do), so the client is the entry the outermost
trusted proxy wrote: the ``EVALSITE_PROXY_COUNT``-th from the right. Everything left of it came
from the client and is ignored, so a forged header moves nothing. With no proxy the client is
the socket's peer (``REMOTE_ADDR``) and the header is ignored altogether.

django-ipware (installed with django-axes) is not used for this: its ``proxy_count`` counts the
proxies that appear *in* the header, so one nginx in front (one entry) reads as no client at all.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from . import conf


def _address(text: str) -> str | None:
    """``text`` as a normalised IP address (a port or IPv6 brackets dropped), or None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, read through ``settings.EVALSITE_PROXY_COUNT`` trusted proxies;
    None when the request carries none (a test request without an address)."""
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    proxies = conf.proxy_count()
    if proxies <= 0:
        return peer
    chain = [entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if not chain:
        return peer  # reached the app without its proxies (from inside their network)
    # Fewer entries than proxies: it came in past the outer ones; the leftmost is the best known.
    written = chain[-proxies] if len(chain) >= proxies else chain[0]
    return _address(written) or peer
