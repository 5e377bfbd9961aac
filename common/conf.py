"""The settings ``common`` reads, each with its default declared here once: the project's
settings read the environment variable of the same name with this default (evalsite/settings/),
and a project without the setting gets the default."""

from django.conf import settings

DEFAULTS = {
    # Proxies in front of the web process whose X-Forwarded-For is trusted (the project's default
    # is 1 behind HTTPS).
    "EVALSITE_PROXY_COUNT": 0,
}


def proxy_count() -> int:
    """How many proxies' X-Forwarded-For entries are trusted for the client's address."""
    return int(getattr(settings, "EVALSITE_PROXY_COUNT", DEFAULTS["EVALSITE_PROXY_COUNT"]) or 0)
