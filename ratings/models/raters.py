"""Raters and their part in a study: one participation per rater and study, and staff's payment
decision on it. Excluding a rater is a flag, never a delete."""

from django.conf import settings
from django.db import models

from .options import MAX_FEEDBACK_CHARS
from .study import Study


class Rater(models.Model):
    class Source(models.TextChoices):
        ACCOUNT = "account", "Invited account"
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "MTurk"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="rater")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ACCOUNT)
    external_id = models.CharField(max_length=200, blank=True, help_text="Participant id from a crowd platform.")
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True, help_text="The rater withdrew: votes excluded, identifying data removed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], condition=~models.Q(external_id=""), name="rater_unique_external_id"),
        ]

    def __str__(self) -> str:
        if self.withdrawn_at:
            return f"withdrawn rater {self.pk}"
        return self.user.get_username() if self.user else f"{self.source}:{self.external_id}"


class Participation(models.Model):
    """One rater in one study: consent, progress, attention-check failures, and the crowd
    platform's session ids. One per rater and study, so a participant id gets one quota.
    A flag is per study: a rater flagged here still counts in their other studies."""

    class FlagReason(models.TextChoices):
        ATTENTION_CHECKS = "attention_checks", "failed attention checks"
        SELF_CONSISTENCY = "self_consistency", "answered repeats inconsistently"
        STAFF = "staff", "flagged by staff"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participations")
    rater = models.ForeignKey(Rater, on_delete=models.PROTECT, related_name="participations")
    started_at = models.DateTimeField(auto_now_add=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    instructed_at = models.DateTimeField(null=True, blank=True, help_text="When the rater finished reading the instructions.")
    finished_at = models.DateTimeField(null=True, blank=True)
    answered = models.PositiveIntegerField(default=0, help_text="Answered comparisons, attention checks and repeats included.")
    last_answered_at = models.DateTimeField(null=True, blank=True)
    failed_checks = models.PositiveIntegerField(default=0)
    flagged = models.BooleanField(default=False, help_text="Left out of this study's leaderboards by default.")
    flag_reason = models.CharField(max_length=20, blank=True, choices=FlagReason.choices)
    crowd_study_id = models.CharField(max_length=200, blank=True, help_text="Prolific STUDY_ID or MTurk hitId.")
    crowd_session_id = models.CharField(max_length=200, blank=True, help_text="Prolific SESSION_ID or MTurk assignmentId.")

    class Outcome(models.TextChoices):
        """How the participant's session ended; each has its own code (Study.*_code)."""

        COMPLETED = "completed", "completed"
        SCREENED_OUT = "screened_out", "screened out (screener or attention checks)"
        NO_CONSENT = "no_consent", "did not consent"
        QUOTA_FULL = "quota_full", "study full or stopped"

    outcome = models.CharField(
        max_length=20, blank=True, choices=Outcome.choices, editable=False,
        help_text="Set once, when the participant was given an outcome code; never changed afterwards.",
    )
    outcome_at = models.DateTimeField(null=True, blank=True, editable=False)
    outcome_reason = models.CharField(max_length=200, blank=True, editable=False, help_text="Why, e.g. which screener question was missed.")
    screener_passed_at = models.DateTimeField(null=True, blank=True, editable=False)
    crowd_submit_to = models.CharField(
        max_length=100, blank=True, editable=False,
        help_text="MTurk turkSubmitTo (one of EVALSITE_MTURK_SUBMIT_HOSTS): the finish page posts the assignment there.",
    )
    withdrawn_crowd_id = models.CharField(
        max_length=200, blank=True, editable=False,
        help_text="A withdrawn participant's platform id, kept only when they had been given an outcome code, since the "
        "platform then holds a submission to approve or return (ratings/payments.py).",
    )
    feedback = models.TextField(blank=True, max_length=MAX_FEEDBACK_CHARS, help_text="The participant's free-text feedback, if any.")
    feedback_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="When the feedback box was sent or skipped.")
    crowd_id_digest = models.CharField(
        max_length=64, blank=True, db_index=True, editable=False,
        help_text="A keyed digest of the platform and participant id (not the id): kept after withdrawal so the same id "
        "rejoining the study meets its first outcome again instead of a fresh session (ratings/raters.py).",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "rater"], name="participation_unique_rater")]


class PaymentDecision(models.Model):
    """Staff's decision on paying a participant, overriding the suggestion of ratings/payments.py."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "approve (pay)"
        REJECT = "reject", "reject"
        RETURN = "return", "return (ask the participant to return the task)"

    participation = models.OneToOneField(Participation, on_delete=models.PROTECT, related_name="payment_decision")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=300, help_text="Why; goes into the participants export.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False)
    decided_at = models.DateTimeField(editable=False)
