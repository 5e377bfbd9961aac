"""A study's results: its votes as arrays (``votes``, the one query every number starts from),
leaderboards computed by ``ratings.stats`` (``leaderboards``) and cached (``caches``), exports
(``exports``, ``image_exports``), plots (``plots``) and the results pages (``views``).

Nothing here computes a statistic of its own: numbers come from ``ratings.stats``."""
