"""Crowd participants: how fast a study takes new ones, and MTurk's hosts (the ratings app's
settings; defaults in ratings/conf.py)."""

from ratings import conf as ratings_conf

from .env import env

_default = ratings_conf.DEFAULTS  # the app's defaults, declared once in ratings/conf.py

# New crowd participants one study takes per minute: a leaked link cannot fill a study's
# participant cap with invented ids in a burst.
# New joins per minute from one client address, and per platform participant id (a real
# participant joins once; a lab behind one address may send a few), per study. A participant
# counts against a study's max_participants only once they consent (ratings/raters.py), so
# invented ids that never get that far close nothing.
EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE = env.int(
    "EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE", default=_default["EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE"]
)
EVALSITE_JOINS_PER_ID_PER_MINUTE = env.int("EVALSITE_JOINS_PER_ID_PER_MINUTE", default=_default["EVALSITE_JOINS_PER_ID_PER_MINUTE"])
# Where the finish page may post an MTurk assignment (the link's turkSubmitTo): MTurk's live and
# sandbox hosts; any other is refused, as it would make the page an open redirect (ratings/crowd.py).
EVALSITE_MTURK_SUBMIT_HOSTS = env.list("EVALSITE_MTURK_SUBMIT_HOSTS", default=list(_default["EVALSITE_MTURK_SUBMIT_HOSTS"]))
# The MTurk pages that show a HIT's ExternalQuestion in a frame: only they may frame a study
# link's HIT page (every other page refuses framing). Live and sandbox, workers and requesters.
EVALSITE_MTURK_FRAME_ANCESTORS = env.list("EVALSITE_MTURK_FRAME_ANCESTORS", default=list(_default["EVALSITE_MTURK_FRAME_ANCESTORS"]))
