"""The settings the ratings app reads, each with its default declared here once: the project's
settings read the environment variable of the same name with this default (evalsite/settings/),
and a project without the setting gets the default (``setting``)."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # A study's cached leaderboard is recomputed once this many new votes have come in.
    "LEADERBOARD_REFRESH_VOTES": 200,
    # An adaptive or rule-stopped study's pair weights and stopping rule are recomputed once this
    # many new comparisons are answered (checked by beat every RATINGS_SAMPLING_REFRESH_INTERVAL_S).
    "RATINGS_SAMPLING_REFRESH_VOTES": 100,
    "RATINGS_SAMPLING_REFRESH_INTERVAL_S": 60.0,
    # A forecast estimated above this much work runs on the default queue (ratings.forecasts).
    "EVALSITE_FORECAST_INLINE_WORK": 200_000,
    # New joins per minute from one client address, and per platform participant id, per study.
    "EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE": 20,
    "EVALSITE_JOINS_PER_ID_PER_MINUTE": 5,
    # Where the finish page may post an MTurk assignment (the link's turkSubmitTo).
    "EVALSITE_MTURK_SUBMIT_HOSTS": ["https://www.mturk.com", "https://workersandbox.mturk.com"],
    # The MTurk pages that may frame a study link's HIT page: live and sandbox, workers and requesters.
    "EVALSITE_MTURK_FRAME_ANCESTORS": [
        "https://worker.mturk.com", "https://workersandbox.mturk.com", "https://www.mturk.com", "https://requester.mturk.com",
        "https://requestersandbox.mturk.com",
    ],
}


def setting(name: str):
    """The project's value of one of this app's settings, or its default here."""
    return getattr(settings, name, DEFAULTS[name])


def sampling_refresh_votes() -> int:
    """New answered comparisons after which a study's pair weights and stopping rule are refitted."""
    return int(setting("RATINGS_SAMPLING_REFRESH_VOTES"))


def leaderboard_refresh_votes() -> int:
    """New votes after which the periodic task recomputes a study's default leaderboard."""
    return int(setting("LEADERBOARD_REFRESH_VOTES"))
