"""What a serve, vote or report can come to: one status each, with the message the rater reads
and the HTTP code the rating page's endpoints answer with.

The ORM path and the views take both from here; the PL/pgSQL functions get the statuses and
messages rendered into their text from this enum at install time (``sql.constants``).
"""

from __future__ import annotations

from enum import Enum


class Outcome(Enum):
    OK = ("ok", 200, "")
    RECORDED = ("recorded", 200, "")
    DUPLICATE = ("duplicate", 200, "")  # a double submit counts once
    REPORTED = ("reported", 200, "You skipped this pair; here is another one.")
    FORBIDDEN = ("forbidden", 403, "This pair was not given to you to rate.")
    INVALID = ("invalid", 400, "The vote could not be read; please reload the page.")
    TOO_FAST = ("too_fast", 429, "Please take at least {seconds} seconds to look at both images before answering.")
    EXPIRED = ("expired", 409, "This pair was open too long and went to another rater; here is a new one.")
    CLOSED = ("closed", 409, "This study is not taking answers now (it is paused or closed); your answer was not recorded.")
    FINISHED = ("finished", 409, "Your session in this study has ended (you finished or withdrew); your answer was not recorded.")
    QUOTA = ("quota", 409, "You have answered every pair this study asks of you; this answer was not recorded.")

    def __init__(self, status: str, http_status: int, message: str):
        self.status = status
        self.http_status = http_status
        self.message = message

    @classmethod
    def of(cls, status: str) -> Outcome:
        for outcome in cls:
            if outcome.status == status:
                return outcome
        raise ValueError(f"No outcome has the status {status!r}.")


# The two ways an answer is ``invalid`` (the vote function says which).
MISSING_ANSWERS = "Answer every question before submitting (missing: {missing})."
BAD_ANSWER = "The answer to '{criterion}' must be {allowed}."
# A report the page could not send properly.
REPORT_UNREADABLE = "The report could not be read; please reload the page."
