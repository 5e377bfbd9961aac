"""Studies, raters, and their votes. Comparisons and votes are append-only: excluding a rater
or a vote is a flag, never a delete, so every leaderboard can be recomputed from raw votes."""

import uuid

from django.conf import settings
from django.db import models

from generation.models import GenerationJob, Image, Prompt

DEFAULT_CRITERIA = ["prompt_adherence", "image_quality"]

# The question a rater reads for each built-in criterion; a study may name others.
CRITERION_QUESTIONS = {
    "prompt_adherence": "Which image follows the prompt better?",
    "image_quality": "Which image has higher quality?",
}


def default_criteria() -> list[str]:
    return list(DEFAULT_CRITERIA)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        GENERATING = "generating", "Generating images"
        RATING = "rating", "Open for rating"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="studies")
    job = models.OneToOneField(GenerationJob, on_delete=models.PROTECT, related_name="study")
    criteria = models.JSONField(default=default_criteria, help_text="Questions asked for every pair, in order.")
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

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    @property
    def display_size(self) -> int:
        return self.job.display_size


class Rater(models.Model):
    class Source(models.TextChoices):
        ACCOUNT = "account", "Invited account"
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "MTurk"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="rater")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ACCOUNT)
    external_id = models.CharField(max_length=200, blank=True, help_text="Participant id from a crowd platform.")
    flagged = models.BooleanField(default=False, help_text="Left out of leaderboards by default.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.user.get_username() if self.user else f"{self.source}:{self.external_id}"


class Comparison(models.Model):
    """One pair shown to one rater: the same prompt and seed through two models."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="comparisons")
    rater = models.ForeignKey(Rater, on_delete=models.PROTECT, related_name="comparisons")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    seed = models.BigIntegerField()
    image_a = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+")
    image_b = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+")
    left_is_a = models.BooleanField(help_text="Randomized per comparison: which image the rater saw on the left.")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Opaque id the rater's page submits.")
    served_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["study", "rater", "answered_at"])]


class Vote(models.Model):
    """One answer to one criterion of one comparison."""

    class Choice(models.TextChoices):
        A = "a", "Image A"
        B = "b", "Image B"
        TIE = "tie", "Tie"

    comparison = models.ForeignKey(Comparison, on_delete=models.PROTECT, related_name="votes")
    criterion = models.CharField(max_length=50)
    choice = models.CharField(max_length=3, choices=Choice.choices)
    response_ms = models.PositiveIntegerField(help_text="Milliseconds from the pair being shown to the submit.")
    excluded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comparison", "criterion"], name="vote_unique_criterion")]
