"""The study: its settings (two groups of them as one value each, ``options.py``), its state,
and the images hidden from its raters."""

import secrets

from django.conf import settings
from django.db import models

from generation.models import GenerationJob, Image

from ..stats.rules import Design
from .options import CrowdOptions, OptionGroup, SamplingOptions

DEFAULT_CRITERIA = ["prompt_adherence", "image_quality"]

# The question a rater reads for each built-in criterion; a study may name others.
CRITERION_QUESTIONS = {
    "prompt_adherence": "Which image follows the prompt better?",
    "image_quality": "Which image has higher quality?",
    # A set criterion (Study.set_criteria): asked of two sets of images, one per seed.
    "diversity": "Which set of images is more varied?",
}


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


# The rule names are ratings/stats/rules.py's (shared with the statistics and the scheduler's SQL);
# the labels are the models'.
DESIGN_CHOICES = [
    (Design.ALL_PAIRS.value, "All pairs (every model against every other)"),
    (Design.VERSUS_REFERENCE.value, "Versus reference (every model against the reference)"),
]


def new_completion_code() -> str:
    return secrets.token_hex(4).upper()


# Screener questions a study may ask after the instructions (ratings/crowd.py checks them).
MAX_SCREENER_QUESTIONS = 5


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
    # completion_url, bonus_per_pair, ask_feedback, max_participants: one value, its columns here.
    crowd_options = OptionGroup(CrowdOptions)
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
    screener_questions = models.JSONField(
        default=list, blank=True,
        help_text="Comprehension questions after the instructions, each "
        '{"question": "Which image has higher quality?", "prompt": "shown above the images (optional)", '
        '"right_image": <id of one of the study\'s images>, "wrong_image": <id of another, or null for a blurred, noisy copy of '
        "the right one>}. A participant must answer every one right to rate; a wrong answer ends their session with the "
        f"screened-out code. At most {MAX_SCREENER_QUESTIONS}; empty: no screener.",
    )
    link_key = models.CharField(max_length=40, default=new_link_key, help_text="Part of the signed study link; change it to revoke every link handed out.")
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
    # sampling, exploration, stop_when, stop_alpha, unit, stop_top_k, stop_width, vote_budget: one value, its columns here.
    sampling_options = OptionGroup(SamplingOptions)
    budget_serves_left = models.PositiveIntegerField(
        null=True, blank=True, editable=False,
        help_text="New pairs the vote budget still lets the scheduler serve: set from the budget less the comparisons answered "
        "or open (on opening, at every refresh and on reopening), one taken per pair served; empty: not counted yet.",
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
    # The versus-reference design (issue 27; ratings/versus.py, the statistics in ratings/stats/versus.py).
    design = models.CharField(
        max_length=20, choices=DESIGN_CHOICES, default="all_pairs",
        help_text="all_pairs: every model pair is served; versus_reference: only pairs of the reference against another "
        "model (plus other_pairs_share of the other pairs), for the question 'is each model as good as the reference?'.",
    )
    reference = models.ForeignKey(
        "generation.ModelSpec", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The model every other is judged against (the teacher, or the production model); one of the study's "
        "models. Required by the versus_reference design; with all_pairs it adds the decision table only.",
    )
    other_pairs_share = models.FloatField(
        default=0.0, help_text="versus_reference: share of the other model pairs' slots still served, for a full ranking (0 to 1).",
    )
    versus_margin = models.FloatField(
        default=0.05, help_text="The margin of the decisions against the reference, on the win-rate scale: non-inferior "
        "means a win rate above 0.5 minus this, equivalent within plus or minus this.",
    )
    stopped_by = models.CharField(
        max_length=10, blank=True, editable=False, choices=[("rule", "its stopping rule"), ("budget", "its vote budget")],
        help_text="What stopped the study: its stopping rule or its vote budget (empty while it serves).",
    )
    stop_comparisons = models.PositiveIntegerField(
        null=True, blank=True, editable=False,
        help_text="Comparisons answered when the study stopped (raters then finish the pairs they have open).",
    )
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

    @property
    def stop_cause(self) -> str:
        """'rule' or 'budget' for a stopped study, '' for one that serves (a study stopped before
        ``stopped_by`` was recorded is told by its reason)."""
        if self.stopped_at is None:
            return ""
        return self.stopped_by or ("budget" if self.stop_reason.startswith("Vote budget") else "rule")

    def get_status_display(self) -> str:
        """The status in words, as every page and message shows it: a study open for rating that
        its stopping rule or vote budget stopped says it is stopped (it serves no new pair)."""
        if self.status == self.Status.RATING and self.stopped_at is not None:
            return "Stopped: its stopping rule is met" if self.stop_cause == "rule" else "Stopped: vote budget reached"
        return self.Status(self.status).label

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
