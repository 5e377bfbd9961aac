"""The rater's side of the site (results pages are in ``ratings.results``, the operations page
in ``ratings.staff_views``): ``links`` (joining from a crowd platform), ``session`` (consent,
instructions, the screener, the rating page, finish, withdraw), ``voting`` (the JSON vote and
report endpoints), ``images`` (image serving for raters), ``home`` (the home page, liveness),
and what they share in ``context``.

A rater is known by a signed cookie per study (``ratings.identity``); pages that need the
rater's participation are ``identity.rater_page`` views.
"""
