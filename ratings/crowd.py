"""Crowd operations around a rating session: the outcome a participant ends with and its code
(where the crowd platform is sent back: Prolific's completion URL, MTurk's externalSubmit), the
screener questions after the instructions, and the feedback box on the finish page.

Outcomes (``Participation.Outcome``), each with its own code on the study:

- ``completed``: no more pairs for them after answering at least one (``Study.completion_code``);
- ``screened_out``: a screener question answered wrong (they never reach the rating page), or
  flagged for failed attention checks by the end of their session (``screened_out_code``);
- ``no_consent``: declined the consent page (``no_consent_code``);
- ``quota_full``: arrived when the study was full or stopped, before rating, or found no pairs
  left for them having answered none: the completed code is never given for no work (``quota_full_code``).

An outcome is recorded once and never changed, so no later request (a finish URL with another
outcome in it, the screener posted again) turns one code into another; and the same platform id
joining again (another session, or after withdrawing) meets it again (``raters.rater_join``).

MTurk: the link's ``turkSubmitTo`` must be one of ``settings.EVALSITE_MTURK_SUBMIT_HOSTS``
(the live and sandbox hosts by default); ``assignmentId`` and ``code`` are posted to
``<turkSubmitTo>/mturk/externalSubmit`` by an auto-submitting form, as ExternalQuestion HITs
expect. Any other host is refused at the study link: it would make the page an open redirect.

MTurk shows an ExternalQuestion in a frame of its own site. The rating pages cannot run there:
they refuse framing (clickjacking), and a cross-site frame gets no first-party cookie, which is
how a rater is known. So a framed link (the browser says ``Sec-Fetch-Dest: iframe``) gets a small
page, framable by ``settings.EVALSITE_MTURK_FRAME_ANCESTORS`` only, that opens the study in a tab
of its own (the link with ``via=frame``) and asks ``mturk_frame_status`` every few seconds
whether the worker has finished there; it then posts the assignment from the frame, as MTurk
expects, and the tab only shows the code. This is psiTurk's pattern (an ad page in MTurk's frame,
the experiment in a window of its own).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import raters
from .selectors import study_items
from .models import MAX_FEEDBACK_CHARS, MAX_SCREENER_QUESTIONS, Participation, Rater, Study

Outcome = Participation.Outcome

MTURK_SUBMIT_PATH = "/mturk/externalSubmit"
# A platform id's shape: Prolific's ids are 24 hexadecimal characters and MTurk's upper-case
# letters and digits; letters, digits, "-" and "_" (a letter or digit first, at most 100) take
# both and the test ids researchers make up, and nothing a spreadsheet would run as a formula.
PLATFORM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
PLATFORM_IDS = {
    Rater.Source.PROLIFIC: ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    Rater.Source.MTURK: ("workerId", "assignmentId", "hitId"),
}
MAX_SCREENER_QUESTION_CHARS = 300
MAX_SCREENER_PROMPT_CHARS = 500


def outcome_code(*, study: Study, outcome: str) -> str:
    return {
        Outcome.COMPLETED: study.completion_code,
        Outcome.SCREENED_OUT: study.screened_out_code,
        Outcome.NO_CONSENT: study.no_consent_code,
        Outcome.QUOTA_FULL: study.quota_full_code,
    }[Outcome(outcome)]


def platform_ids_problems(*, source: str, params) -> list[str]:
    """What is wrong with a study link's platform ids (``PLATFORM_IDS``: the participant id is
    required, the study and session ids checked when given); empty when nothing is."""
    problems = []
    for number, name in enumerate(PLATFORM_IDS[source]):
        value = params.get(name, "")
        if not value and number:
            continue
        if not PLATFORM_ID.match(value):
            shown = f" (the link has {value[:40]!r})" if value else " (the link has none)"
            problems.append(
                f"{name} must be 1 to 100 letters, digits, “-” or “_”, starting with a letter or digit{shown}."
            )
    return problems


def mturk_submit_origin(turk_submit_to: str) -> str:
    """The MTurk host a link's ``turkSubmitTo`` names, if it is one we post to; else
    ``ValidationError`` saying which are."""
    allowed = [host.rstrip("/") for host in settings.EVALSITE_MTURK_SUBMIT_HOSTS]
    origin = turk_submit_to.strip().rstrip("/")
    if origin not in allowed:
        raise ValidationError(
            f"This link's turkSubmitTo ({turk_submit_to[:100]!r}) is not an MTurk address. It must be "
            f"{' or '.join(allowed)}; please open the task again from MTurk."
        )
    return origin


def participation_submit_to_set(*, participation: Participation, origin: str) -> None:
    """Remember where the finish page posts this MTurk assignment (the first link's host wins)."""
    Participation.objects.filter(pk=participation.pk, crowd_submit_to="").update(crowd_submit_to=origin)
    participation.refresh_from_db(fields=["crowd_submit_to"])


def participation_outcome_record(*, participation: Participation, outcome: str, reason: str = "") -> str:
    """Record the participant's outcome unless one is recorded already; returns the outcome that
    holds (the first one)."""
    Participation.objects.filter(pk=participation.pk, outcome="").update(
        outcome=Outcome(outcome), outcome_at=timezone.now(), outcome_reason=reason[:200]
    )
    participation.refresh_from_db(fields=["outcome", "outcome_at", "outcome_reason"])
    return participation.outcome


OUT_OF_PAIRS = "the study had no pairs left for them"


def finished_outcome(*, study: Study, participation: Participation) -> tuple[str, str]:
    """(outcome, reason) of a participant with no more pairs: screened out when flagged for
    failed attention checks; quota full when they answered nothing (no pairs were left for them:
    the completed code is never given for no work); else completed."""
    participation.refresh_from_db(fields=["flagged", "flag_reason", "failed_checks", "answered"])
    if participation.flagged and participation.flag_reason == Participation.FlagReason.ATTENTION_CHECKS:
        return Outcome.SCREENED_OUT, f"failed {participation.failed_checks} attention check{'s' if participation.failed_checks != 1 else ''}"
    if participation.answered == 0:
        return Outcome.QUOTA_FULL, OUT_OF_PAIRS
    return Outcome.COMPLETED, ""


def participation_decline(*, participation: Participation) -> None:
    """The participant does not consent: their outcome is ``no_consent`` and they are withdrawn
    (a crowd participant's platform ids stay, as the platform holds their submission)."""
    with transaction.atomic():
        participation_outcome_record(participation=participation, outcome=Outcome.NO_CONSENT, reason="declined the consent page")
        raters.rater_withdraw(rater=participation.rater)


def exit_target(
    *, study: Study, outcome: str, participation: Participation | None = None, assignment_id: str = "", submit_to: str = "",
    mturk_frame: bool = False,
) -> dict:
    """Where a participant with this outcome goes: ``{"code", "mturk": {"action", "assignment_id"}}``
    for an MTurk assignment (the page posts it); ``{"code", "mturk_frame": True}`` for one whose
    HIT frame posts it (the page says to go back there); ``{"code", "redirect": url}`` when the
    study has a completion URL, else ``{"code"}`` (the page shows it)."""
    code = outcome_code(study=study, outcome=outcome)
    if participation is not None:
        assignment_id = participation.crowd_session_id
        submit_to = participation.crowd_submit_to
        mturk_frame = not submit_to and bool(assignment_id) and participation.rater.source == Rater.Source.MTURK
    allowed = [host.rstrip("/") for host in settings.EVALSITE_MTURK_SUBMIT_HOSTS]
    if submit_to in allowed and assignment_id:  # checked again: the setting may have changed since the link
        return {"code": code, "mturk": {"action": submit_to + MTURK_SUBMIT_PATH, "assignment_id": assignment_id}}
    if mturk_frame:
        return {"code": code, "mturk_frame": True}
    if study.completion_url:
        return {"code": code, "redirect": study.completion_url.replace("{code}", code).replace("{assignment_id}", assignment_id)}
    return {"code": code}


def mturk_frame_status(*, study: Study, worker_id: str, assignment_id: str) -> dict:
    """What an MTurk HIT's frame asks while its worker rates in their own tab:
    ``{"finished": False}`` until the worker's outcome is recorded and the finish page has
    nothing left to ask (the feedback box), then ``{"finished": True, "code": <their code>}``.
    Only the worker's id with their assignment's id finds it (MTurk shows both to that worker only)."""
    participation = (
        Participation.objects.filter(
            study=study, rater__source=Rater.Source.MTURK, rater__external_id=worker_id, crowd_session_id=assignment_id
        ).first()
        if worker_id and assignment_id else None  # both needed: an empty id finds nobody
    )
    if participation is None or not participation.outcome or feedback_wanted(study=study, participation=participation):
        return {"finished": False}
    return {"finished": True, "code": outcome_code(study=study, outcome=participation.outcome)}


# The screener

def screener_questions_problems(*, study: Study, questions) -> list[str]:
    """What is wrong with a study's screener questions (empty list: nothing)."""
    if questions in (None, ""):
        return []
    if not isinstance(questions, list):
        return ["Give the screener questions as a list (empty for no screener)."]
    problems = []
    if len(questions) > MAX_SCREENER_QUESTIONS:
        problems.append(f"At most {MAX_SCREENER_QUESTIONS} screener questions; got {len(questions)}.")
    images = {image_id for by_spec in study_items(study=study).values() for image_id in by_spec.values()} if study.pk else set()
    for number, question in enumerate(questions, start=1):
        where = f"Screener question {number}"
        if not isinstance(question, dict) or set(question) - {"question", "prompt", "right_image", "wrong_image"}:
            problems.append(f"{where}: give an object with question, prompt (optional), right_image and wrong_image (optional).")
            continue
        text, prompt = question.get("question"), question.get("prompt", "")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_SCREENER_QUESTION_CHARS:
            problems.append(f"{where}: the question must be a text of 1 to {MAX_SCREENER_QUESTION_CHARS} characters.")
        if not isinstance(prompt, str) or len(prompt) > MAX_SCREENER_PROMPT_CHARS:
            problems.append(f"{where}: the prompt must be a text of at most {MAX_SCREENER_PROMPT_CHARS} characters.")
        right, wrong = question.get("right_image"), question.get("wrong_image")
        for name, image_id in (("right_image", right), ("wrong_image", wrong)):
            if image_id is None and name == "wrong_image":
                continue
            if not isinstance(image_id, int) or isinstance(image_id, bool) or image_id not in images:
                problems.append(f"{where}: {name} must be the id of one of this study's generated images; {image_id!r} is not.")
        if right is not None and right == wrong:
            problems.append(f"{where}: right_image and wrong_image must be two different images.")
    return problems


def study_screener_set(*, study: Study, questions: list) -> None:
    """Set the study's screener questions (empty: none), checked; ``ValidationError`` lists
    every problem and changes nothing."""
    problems = screener_questions_problems(study=study, questions=questions)
    if problems:
        raise ValidationError({"screener_questions": problems})
    Study.objects.filter(pk=study.pk).update(screener_questions=list(questions or []))
    study.screener_questions = list(questions or [])


def screener_right_side(*, participation: Participation, number: int) -> str:
    """Which side ("left" or "right") shows question ``number``'s right image to this
    participant: random per participant and question, the same on every reload."""
    digest = salted_hmac("ratings.screener", f"{participation.pk}:{number}").digest()
    return "left" if digest[0] & 1 else "right"


def screener_image(*, study: Study, participation: Participation, number: int, side: str) -> tuple[int, bool] | None:
    """(image id, degraded?) shown on ``side`` of screener question ``number``, or None."""
    questions = study.screener_questions or []
    if not 0 <= number < len(questions) or side not in ("left", "right"):
        return None
    question = questions[number]
    if side == screener_right_side(participation=participation, number=number):
        return question["right_image"], False
    if question.get("wrong_image") is None:
        return question["right_image"], True
    return question["wrong_image"], False


def screener_answer(*, study: Study, participation: Participation, answers: dict) -> bool:
    """Check the participant's answers ({"q0": "left", ...}, one per question): all right, they
    may rate; one wrong, their session ends, screened out, before any pair is served. Raises
    ``ValidationError`` (and records nothing) when a question is unanswered. Answering again
    changes nothing once decided; returns whether they passed."""
    questions = study.screener_questions or []
    given = [answers.get(f"q{number}") for number in range(len(questions))]
    missing = [str(number + 1) for number, side in enumerate(given) if side not in ("left", "right")]
    if missing:
        raise ValidationError(f"Choose the left or the right image for every question (unanswered: {', '.join(missing)}).")
    participation.refresh_from_db(fields=["screener_passed_at", "outcome"])
    if participation.screener_passed_at is not None:
        return True
    if participation.outcome:
        return False
    wrong = [
        number + 1 for number, side in enumerate(given) if side != screener_right_side(participation=participation, number=number)
    ]
    if not wrong:
        Participation.objects.filter(pk=participation.pk, screener_passed_at__isnull=True).update(screener_passed_at=timezone.now())
        return True
    with transaction.atomic():
        reason = f"failed the screener (question{'s' if len(wrong) > 1 else ''} {', '.join(map(str, wrong))} of {len(questions)} wrong)"
        participation_outcome_record(participation=participation, outcome=Outcome.SCREENED_OUT, reason=reason)
        raters.participation_finish(participation=participation)
    return False


def screener_pending(*, study: Study, participation: Participation) -> bool:
    return bool(study.screener_questions) and participation.screener_passed_at is None and participation.finished_at is None


# Feedback

def feedback_wanted(*, study: Study, participation: Participation) -> bool:
    """Whether the finish page offers the feedback box: the study asks for it, the participant
    finished (completed or screened out) and has not sent or skipped it."""
    return (
        study.ask_feedback and participation.feedback_at is None
        and participation.outcome in (Outcome.COMPLETED, Outcome.SCREENED_OUT)
    )


def participation_feedback(*, participation: Participation, text: str) -> None:
    """Store the participant's feedback (empty: skipped), once. Raises ``ValidationError`` when
    it is too long, storing nothing, so the page can give it back to shorten."""
    text = text.strip()
    if len(text) > MAX_FEEDBACK_CHARS:
        raise ValidationError(f"Your feedback is {len(text)} characters long; please shorten it to at most {MAX_FEEDBACK_CHARS}.")
    Participation.objects.filter(pk=participation.pk, feedback_at__isnull=True).update(feedback=text, feedback_at=timezone.now())
