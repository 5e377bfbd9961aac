"""Studies, raters, and their votes. Comparisons and votes are append-only: excluding a rater
or a vote is a flag, never a delete, so every leaderboard can be recomputed from raw votes."""

import secrets
import uuid

from django.conf import settings
from django.db import models

from generation.models import GenerationJob, Image, Prompt

DEFAULT_CRITERIA = ["prompt_adherence", "image_quality"]

# The question a rater reads for each built-in criterion; a study may name others.
CRITERION_QUESTIONS = {
    "prompt_adherence": "Which image follows the prompt better?",
    "image_quality": "Which image has higher quality?",
    # A set criterion (Study.set_criteria): asked of two sets of images, one per seed.
    "diversity": "Which set of images is more varied?",
}


# Why a rater skipped a pair; reported pairs show on the staff side.
REPORT_REASONS = [
    ("broken", "An image is broken or does not load"),
    ("offensive", "An image is offensive"),
    ("other", "Something else is wrong"),
]


def default_criteria() -> list[str]:
    return list(DEFAULT_CRITERIA)


DEFAULT_CONSENT_TEXT = (
    "You are invited to take part in a research study on how people judge images made by computer "
    "programs from a text description. You will see a text prompt and two images, and answer which "
    "image follows the prompt better and which has higher quality. It takes about 10 minutes. We "
    "record your answers and how long each took; we do not record your name. Your participation is "
    "voluntary: you may stop at any time, and you may withdraw, which removes your answers from the "
    "results and deletes your participant id. Some images may be strange or of poor quality; you can "
    "report any image that is broken or offensive."
)


DEFAULT_RATER_TITLE = "Image comparison study"

# Attention-check kinds a study can use (AttentionCheck.Kind values).
ATTENTION_CHECK_KINDS = ["degraded", "unrelated_prompt"]


def default_attention_check_kinds() -> list[str]:
    return list(ATTENTION_CHECK_KINDS)

SAMPLING_CHOICES = [("uniform", "Uniform (every slot filled evenly)"), ("adaptive", "Adaptive (votes where the ranking is uncertain)")]
STOP_CHOICES = [
    ("target", "Every slot at its vote target"),
    ("separated", "Adjacent models separated"),
    ("width", "Every interval narrower than a width"),
]


def new_completion_code() -> str:
    return secrets.token_hex(4).upper()


# Screener questions a study may ask after the instructions (ratings/crowd.py checks them).
MAX_SCREENER_QUESTIONS = 5
# Longest free-text feedback a participant may leave on the finish page.
MAX_FEEDBACK_CHARS = 2000


def new_link_key() -> str:
    return secrets.token_urlsafe(12)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        GENERATING = "generating", "Generating images"
        RATING = "rating", "Open for rating"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200, help_text="For researchers and staff only; raters never see it (they see the rater title).")
    rater_title = models.CharField(
        max_length=200, default=DEFAULT_RATER_TITLE,
        help_text="What raters see as the study's title. Keep it neutral: never name a model or system.",
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="studies")
    job = models.OneToOneField(GenerationJob, on_delete=models.PROTECT, related_name="study")
    criteria = models.JSONField(default=default_criteria, help_text="Questions asked for every pair, in order.")
    set_criteria = models.JSONField(
        default=list, blank=True,
        help_text="Questions asked of sets instead of pairs, e.g. diversity: for one prompt the rater sees the images of every "
        "seed of the study from one model beside those of another and answers which set is more varied. Needs at least two "
        "seeds; empty: none. Fixed once the study opens.",
    )
    allow_ties = models.BooleanField(default=False, help_text="Offer a tie answer; off means forced choice, as in ADD.")
    votes_per_pair = models.PositiveIntegerField(default=3, help_text="Target number of answered comparisons per model pair, prompt and seed.")
    quota_per_rater = models.PositiveIntegerField(default=50, help_text="Comparisons one rater is asked to answer.")
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="shared_studies",
        help_text="Researchers who see and run this study besides its owner.",
    )
    raters = models.ManyToManyField("Rater", blank=True, related_name="studies", help_text="Rater accounts invited to this study.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    # What raters see and how a session runs (the rater side: ratings/views.py, services.py).
    consent_text = models.TextField(default=DEFAULT_CONSENT_TEXT, help_text="Shown before anything else; the rater must agree to continue.")
    completion_url = models.CharField(
        max_length=500, blank=True,
        help_text="Where a rater goes on finishing, e.g. https://app.prolific.com/submissions/complete?cc={code}; "
        "{code} and {assignment_id} are filled in. Empty: show the completion code on the page.",
    )
    completion_code = models.CharField(max_length=40, default=new_completion_code, help_text="Code a rater gets on finishing (Prolific's completion code).")
    # One code per outcome (Participation.Outcome), so the crowd platform tells them apart; each goes
    # to completion_url as {code}. Set them to the codes configured on Prolific's side, or copy these there.
    screened_out_code = models.CharField(
        max_length=40, default=new_completion_code,
        help_text="Code of a participant screened out: failed the screener questions or the attention checks.",
    )
    no_consent_code = models.CharField(max_length=40, default=new_completion_code, help_text="Code of a participant who did not consent.")
    quota_full_code = models.CharField(
        max_length=40, default=new_completion_code,
        help_text="Code of a participant who arrived when the study was full or stopped, before rating anything.",
    )
    bonus_per_pair = models.DecimalField(
        max_digits=8, decimal_places=4, default=0,
        help_text="Bonus per answered pair (one submit, every question of the pair; attention checks and repeats count), in the "
        "crowd platform's currency (Prolific: the study's currency; MTurk: US dollars). The participants export suggests "
        "this times the pairs answered for each approved participant.",
    )
    screener_questions = models.JSONField(
        default=list, blank=True,
        help_text="Comprehension questions after the instructions, each "
        '{"question": "Which image has higher quality?", "prompt": "shown above the images (optional)", '
        '"right_image": <id of one of the study\'s images>, "wrong_image": <id of another, or null for a blurred, noisy copy of '
        "the right one>}. A participant must answer every one right to rate; a wrong answer ends their session with the "
        f"screened-out code. At most {MAX_SCREENER_QUESTIONS}; empty: no screener.",
    )
    ask_feedback = models.BooleanField(
        default=False, help_text=f"Offer an optional feedback box (at most {MAX_FEEDBACK_CHARS} characters) on the finish page.",
    )
    link_key = models.CharField(max_length=40, default=new_link_key, help_text="Part of the signed study link; change it to revoke every link handed out.")
    max_participants = models.PositiveIntegerField(null=True, blank=True, help_text="Cap on the number of raters; empty means no cap.")
    attention_check_rate = models.FloatField(default=0.1, help_text="Share of served pairs that are attention checks (gold pairs with a known answer).")
    min_seconds_per_vote = models.FloatField(default=3.0, help_text="A faster vote is refused with a message.")
    attention_check_kinds = models.JSONField(
        default=default_attention_check_kinds,
        help_text="Kinds of attention check made on opening: degraded (a blurred, noisy copy; known answer: image quality) and "
        "unrelated_prompt (an image made for another prompt; known answer: prompt adherence). Use degraded alone when the "
        "images carry no recognisable content (random-weight test models): an unrelated image then looks just as related.",
    )
    flag_after_failed_checks = models.PositiveIntegerField(default=2, help_text="Failed attention checks after which a rater is flagged.")
    reservation_seconds = models.PositiveIntegerField(default=600, help_text="How long a served pair stays reserved for its rater without activity.")
    serve_level = models.PositiveIntegerField(
        default=0, editable=False,
        help_text="The lowest fill of the study's pair slots, where the scheduler's search starts; raised when none is left below it.",
    )
    repeat_share = models.FloatField(default=0.05, help_text="Share of served pairs that repeat one the rater already answered (self-consistency).")
    min_self_consistency = models.FloatField(
        null=True, blank=True,
        help_text="Flag raters whose share of repeats answered the same way is below this (0 to 1); empty: never.",
    )
    min_repeats_to_judge = models.PositiveIntegerField(
        default=6, help_text="Repeated answers (all criteria) a rater needs before self-consistency can flag them.",
    )
    # Sampling and stopping (issue 13; ratings/sampling.py, the rule in ratings/stats/sampling.py).
    # pair_weights lists one serving probability per model pair in ``stats.sampling.pair_index``
    # order over the study's models sorted by ModelSpec id (as the leaderboards sort them), the
    # index every PairSlot.model_pair holds.
    sampling = models.CharField(
        max_length=10, choices=SAMPLING_CHOICES, default="uniform",
        help_text="uniform: every (prompt, seed, model pair) slot filled evenly; adaptive: model pairs drawn by "
        "pair_weights, votes going where the ranking is still uncertain.",
    )
    exploration = models.FloatField(default=0.2, help_text="Adaptive sampling: share of pairs served uniformly over all model pairs.")
    stop_when = models.CharField(
        max_length=10, choices=STOP_CHOICES, default="target",
        help_text="target: fill every slot to votes_per_pair; separated: stop when adjacent models are separated at "
        "confidence 1 - stop_alpha; width: stop when every model's interval is narrower than stop_width Elo.",
    )
    stop_alpha = models.FloatField(default=0.05, help_text="Error level of the anytime-valid stopping rule.")
    stop_top_k = models.PositiveIntegerField(null=True, blank=True, help_text="separated: only the top k adjacent pairs must be separated; empty: all.")
    stop_width = models.FloatField(null=True, blank=True, help_text="width: the largest interval width allowed, in Elo points.")
    vote_budget = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Hard cap on answered comparisons (checked by the background refresh, so it may be passed by the "
        "votes of one refresh interval); required unless stop_when is target.",
    )
    pair_weights = models.JSONField(null=True, blank=True, editable=False, help_text="Current serving probability per model pair.")
    pair_levels = models.JSONField(
        null=True, blank=True, editable=False,
        help_text="Lowest fill of each model pair's open slots at the last refresh, where adaptive serving's search starts.",
    )
    pair_weights_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="When pair_weights and the stopping rule were last computed.")
    pair_weights_votes = models.PositiveIntegerField(default=0, editable=False, help_text="Answered comparisons counted by that computation.")
    stop_reason = models.CharField(max_length=300, blank=True, editable=False, help_text="Why the study stopped serving new pairs.")
    stopped_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="When the stopping rule or the budget stopped the study.")
    # Study operations (issue 15): pilots, clones, screening before launch (ratings/pilots.py,
    # ratings/cloning.py, ratings/screening.py).
    pilot_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="pilot", editable=False,
        help_text="Set on a pilot: the main study it pilots. A pilot's votes never count in the main study's results.",
    )
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones", editable=False,
        help_text="The study this one was cloned from (its settings; never its votes, raters or link secrets).",
    )
    images_reviewed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When staff or the owner finished screening the study's images (or skipped it): crowd links work only after.",
    )
    images_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False,
        help_text="Who screened the images, or skipped screening.",
    )
    images_review_skipped = models.BooleanField(
        default=False, editable=False, help_text="The screening was skipped on purpose (by images_reviewed_by), not done.",
    )

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    @property
    def display_size(self) -> int:
        return self.job.display_size

    @property
    def all_criteria(self) -> list[str]:
        """Every criterion of the study: those asked of pairs, then those asked of sets."""
        return [*self.criteria, *(self.set_criteria or [])]


class HiddenImage(models.Model):
    """An image staff or the owner hid from a study's raters while screening it (broken,
    offensive): its pairs are retired and it is left out of new pair slots, attention checks and
    the instructions' example. Per study (an image can serve several studies); a pilot is
    screened with its main study, so its hidden images are its main study's."""

    class Reason(models.TextChoices):
        BROKEN = "broken", "Broken (blank, corrupt, garbled)"
        OFFENSIVE = "offensive", "Offensive or unsafe"
        OTHER = "other", "Other (say why in the note)"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="hidden_images")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    hidden_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    hidden_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "image"], name="hiddenimage_unique_image")]

    def __str__(self) -> str:
        return f"image {self.image_id} hidden in {self.study} ({self.get_reason_display()})"


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


class PairSlot(models.Model):
    """One (prompt, seed, model A, model B) of a study whose two images exist, with its vote
    counter: the scheduler picks the least-filled slot with a row lock (SKIP LOCKED).

    A slot of kind ``set`` (studies with set criteria) stands for the sets of images of one
    prompt, one per seed of the study, of model A and model B: its seed is the study's first and
    its images those of the first seed, so every query over slots and comparisons works on it;
    a comparison served from it asks the study's set criteria only."""

    class Kind(models.TextChoices):
        PAIR = "pair", "Two images: one prompt and seed, two models"
        SET = "set", "Two sets of images: one prompt, every seed, two models"

    # Every reservation rewrites this row's (filled, random_key), so every index here is written
    # on every serve: only the three the scheduler and the constraints need. Study lookups use
    # the (study, image_a, image_b) unique index; prompt and images are never searched from here.
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="pair_slots", db_index=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+", db_index=False)
    seed = models.BigIntegerField()
    image_a = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+", db_index=False)
    image_b = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+", db_index=False)
    filled = models.PositiveIntegerField(default=0, help_text="Answered comparisons plus live reservations.")
    random_key = models.FloatField(help_text="Random order among equally filled slots; redrawn on every reservation.")
    retired = models.BooleanField(default=False, help_text="Reported by raters; no longer served.")
    # Set for adaptive studies only, so the index below (rewritten on every serve, like the one
    # above) costs uniform studies nothing.
    model_pair = models.SmallIntegerField(
        null=True, blank=True,
        help_text="Adaptive studies: the model pair's index in Study.pair_weights (stats.sampling.pair_index over specs by id).",
    )
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.PAIR)

    class Meta:
        # A set slot has its first-seed pair's images: the kind tells the two apart.
        constraints = [models.UniqueConstraint(fields=["study", "image_a", "image_b", "kind"], name="pairslot_unique_images_kind")]
        indexes = [
            models.Index(fields=["study", "filled", "random_key"], condition=models.Q(retired=False), name="pairslot_least_filled"),
            # Adaptive serving: the least-filled slot of one drawn model pair.
            models.Index(
                fields=["study", "model_pair", "filled", "random_key"], condition=models.Q(retired=False, model_pair__isnull=False),
                name="pairslot_pair_least_filled",
            ),
        ]


class AttentionCheck(models.Model):
    """A gold pair with a known answer: the real image (A) against a clearly worse one (B)."""

    class Kind(models.TextChoices):
        DEGRADED = "degraded", "A heavily blurred and noised copy"
        UNRELATED_PROMPT = "unrelated_prompt", "An image made for an unrelated prompt"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="attention_checks")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    seed = models.BigIntegerField()
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+", help_text="The right answer.")
    decoy_image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Unrelated-prompt image.")
    decoy_file = models.FileField(max_length=300, blank=True, help_text="Degraded display copy (PNG at the study's display size).")
    criteria = models.JSONField(help_text="Criteria whose answer is known (the real image wins).")
    retired = models.BooleanField(
        default=False,
        help_text="Served to nobody any more: one of its images was hidden in the screening after someone was shown it "
        "(kept for the answers given; showing the image again serves it again).",
    )
    created_at = models.DateTimeField(auto_now_add=True)


class Comparison(models.Model):
    """One pair shown to one rater: the same prompt and seed through two models."""

    # Every submit inserts one row and rewrites another (not a HOT update: answered_at is
    # indexed), so every index here costs twice per vote: only those a query needs. Study
    # lookups use the (study, rater, answered_at) index, rater lookups (rater, slot); prompt and
    # images are never searched from this table.
    #
    # study, prompt and the images carry no foreign-key constraint of their own (each check
    # would take a share lock on the study's row, one row every rater shares, on every serve):
    # they are copies of the pair slot's (or attention check's) values, whose constraints hold
    # them, so a row here cannot point at a study, prompt or image that the database would let
    # go. ``tests/ratings/test_scheduler.py`` checks that the copies match.
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="comparisons", db_index=False, db_constraint=False)
    rater = models.ForeignKey(Rater, on_delete=models.PROTECT, related_name="comparisons", db_index=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    seed = models.BigIntegerField()
    image_a = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    image_b = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    left_is_a = models.BooleanField(help_text="Randomized per comparison: which image the rater saw on the left.")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Opaque id the rater's page submits.")
    served_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    # A served pair is a reservation of its slot until answered, released, or expired.
    slot = models.ForeignKey(PairSlot, null=True, blank=True, on_delete=models.PROTECT, related_name="comparisons", db_index=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="The reservation lapses after this unless the rater is active.")
    released_at = models.DateTimeField(null=True, blank=True, help_text="Reservation given back (expired or reported) without a vote.")
    attention_check = models.ForeignKey(
        AttentionCheck, null=True, blank=True, on_delete=models.PROTECT, related_name="comparisons", db_index=False,
        help_text="Set for a gold pair: A is the right answer; for a degraded check B is shown as the degraded copy.",
    )
    failed_check = models.BooleanField(null=True, blank=True, help_text="For an answered attention check: whether the rater got it wrong.")
    is_repeat = models.BooleanField(default=False, help_text="A deliberate repeat of an answered pair, for self-consistency.")
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="repeats", db_index=False)
    report_reason = models.CharField(max_length=20, blank=True, choices=REPORT_REASONS)
    report_note = models.CharField(max_length=500, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["study", "rater", "answered_at"]),
            models.Index(fields=["rater", "slot"], name="comparison_rater_slot"),
            models.Index(
                fields=["rater", "study"], condition=models.Q(answered_at__isnull=True, released_at__isnull=True),
                name="comparison_rater_open",
            ),
            models.Index(
                fields=["study", "expires_at"], condition=models.Q(answered_at__isnull=True, released_at__isnull=True),
                name="comparison_live_reservation",
            ),
            # Partial: written only for the rare rows they find (most comparisons are plain pairs).
            models.Index(fields=["attention_check"], condition=models.Q(attention_check__isnull=False), name="comparison_attention_check"),
            models.Index(fields=["repeat_of"], condition=models.Q(repeat_of__isnull=False), name="comparison_repeat_of"),
            models.Index(fields=["slot"], condition=models.Q(reported_at__isnull=False), name="comparison_reported_slot"),
        ]


class Vote(models.Model):
    """One answer to one criterion of one comparison."""

    class Choice(models.TextChoices):
        A = "a", "Image A"
        B = "b", "Image B"
        TIE = "tie", "Tie"

    # Indexed by the (comparison, criterion) unique constraint.
    comparison = models.ForeignKey(Comparison, on_delete=models.PROTECT, related_name="votes", db_index=False)
    criterion = models.CharField(max_length=50)
    choice = models.CharField(max_length=3, choices=Choice.choices)
    response_ms = models.PositiveIntegerField(help_text="Milliseconds from the pair being shown to the submit.")
    excluded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comparison", "criterion"], name="vote_unique_criterion")]
