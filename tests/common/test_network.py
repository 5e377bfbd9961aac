"""``common.network.client_address``: the entry the outermost trusted proxy wrote, whatever the
client put before it; the socket's peer with no proxy; never a forged or malformed entry."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from common.network import client_address


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "expected"), [
    (0, "203.0.113.5", None, "203.0.113.5"),
    (0, "203.0.113.5", "198.51.100.1", "203.0.113.5"),  # no proxy trusted: the header is the client's word
    (1, "10.0.0.2", "198.51.100.1", "198.51.100.1"),  # one nginx in front: the one entry it wrote
    (1, "10.0.0.2", "192.0.2.99, 198.51.100.1", "198.51.100.1"),  # a forged entry before it moves nothing
    (2, "10.0.0.3", "192.0.2.99, 198.51.100.1, 10.0.0.2", "198.51.100.1"),  # CDN then nginx
    (1, "10.0.0.2", None, "10.0.0.2"),  # reached the app directly, from inside
    (2, "10.0.0.3", "198.51.100.1", "198.51.100.1"),  # came in past the outer proxy: the best known
    (1, "10.0.0.2", "not-an-address", "10.0.0.2"),
    (1, "10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
    (1, "10.0.0.2", "198.51.100.1:5123", "198.51.100.1"),
    (0, "", None, None),
])
def test_the_client_address_through_the_trusted_proxies(settings, proxies, remote, forwarded, expected):
    settings.EVALSITE_PROXY_COUNT = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = RequestFactory().get("/", REMOTE_ADDR=remote, **extra)
    assert client_address(request) == expected


def test_axes_reads_the_client_address_through_the_same_function(settings):
    from axes.helpers import get_client_ip_address

    settings.EVALSITE_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.1")
    assert get_client_ip_address(request) == "198.51.100.1"
