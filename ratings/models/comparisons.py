"""What raters are served and answer: pair slots, attention checks, comparisons and their votes.
Comparisons and votes are append-only: excluding a vote is a flag, never a delete, so every
leaderboard can be recomputed from raw votes."""

import uuid

from django.db import models

from generation.models import Image, Prompt

from .raters import Rater
from .study import Study

# Why a rater skipped a pair; reported pairs show on the staff side.
REPORT_REASONS = [
    ("broken", "An image is broken or does not load"),
    ("offensive", "An image is offensive"),
    ("other", "Something else is wrong"),
]


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
    retired = models.BooleanField(default=False, help_text="No longer served: an image of it is hidden, or raters' reports retired it.")
    report_retired_at = models.DateTimeField(
        null=True, blank=True, help_text="When raters' reports retired it (staff serve it again from the operations page).",
    )
    reports_reviewed_at = models.DateTimeField(
        null=True, blank=True, help_text="When staff last served it again after reports: earlier reports no longer count.",
    )
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
            # Reports per study per minute (ratings/scheduler/voting.py bounds them).
            models.Index(fields=["study", "reported_at"], condition=models.Q(reported_at__isnull=False), name="comparison_reported_at"),
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
