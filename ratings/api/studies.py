"""Studies themselves: the study as the API shows it, creating one, and its life (start
generation, open, pause, resume, close) and sharing. A researcher reaches only the studies they
own or that are shared with them (others answer 404); staff reach all."""

from __future__ import annotations

import re

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import service_errors
from generation.api.serializers import ShareSerializer, UsablePromptSetField
from generation.models import GenerationJob, ModelSpec

from .. import screening, studies
from ..models import ATTENTION_CHECK_KINDS, UNIT_CHOICES, SamplingOptions, Study
from ..results.units import stopping_rule_text, unit_text
from ..studies import MAX_SEED, MAX_SEEDS
from .base import CONFLICT, SpecBriefSerializer, choices_text, resolve_spec, specs_resolve
from .screening import ScreeningStateSerializer

CRITERION = re.compile(r"^[a-z][a-z0-9_]{0,49}$")

# Sampling and stopping (issue 13): the unit and the rule in words, the settings (one group,
# ratings/models/options.py: an option added there shows here), then what the background refresh wrote.
SAMPLING_FIELDS = [
    "unit", "unit_text", "stopping_rule", *(name for name in SamplingOptions.names() if name != "unit"),
    "pair_weights", "pair_weights_at", "pair_weights_votes", "stop_reason", "stopped_at", "stopped_by", "stop_comparisons",
]


# The versus-reference design (issue 27).
VERSUS_FIELDS = ["design", "reference", "other_pairs_share", "versus_margin"]


class StudyFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    owner = django_filters.CharFilter(field_name="owner__username")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Study
        fields = ["status", "name", "owner", "created_after"]


class StudySerializer(serializers.ModelSerializer):
    reference = SpecBriefSerializer(read_only=True, allow_null=True, help_text="The model every other is judged against, if any.")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    shared_with = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    models = SpecBriefSerializer(source="job.specs", many=True, read_only=True)
    prompt_set = serializers.IntegerField(source="job.prompt_set_id", read_only=True)
    seeds = serializers.ListField(source="job.seeds", child=serializers.IntegerField(), read_only=True)
    display_size = serializers.IntegerField(source="job.display_size", read_only=True)
    pilot = serializers.SerializerMethodField(help_text="The id of this study's pilot, if it has one (its votes are kept apart).")
    screening = serializers.SerializerMethodField(help_text="Whether the images were screened (or the screening skipped): crowd links work only then.")
    unit_text = serializers.SerializerMethodField(help_text="What the study's conclusions are about (its unit), in words.")
    stopping_rule = serializers.SerializerMethodField(help_text="The study's stopping rule on its unit, in words.")
    stopped_by = serializers.ChoiceField(
        choices=[("", "still serving"), *Study._meta.get_field("stopped_by").choices], read_only=True,
        help_text="What stopped the study: rule (its stopping rule) or budget (its vote budget); empty while it serves.",
    )

    class Meta:
        model = Study
        fields = [
            "id", "name", "rater_title", "status", "owner", "shared_with", "models", "prompt_set", "seeds", "criteria",
            "set_criteria", "allow_ties", "display_size", "votes_per_pair", "quota_per_rater", "attention_check_kinds",
            "min_self_consistency", "min_repeats_to_judge", "created_at",
            *SAMPLING_FIELDS,
            *VERSUS_FIELDS,
            "pilot_of", "pilot", "cloned_from", "screening",
        ]
        read_only_fields = fields

    def get_unit_text(self, study) -> str:
        return unit_text(study=study)

    def get_stopping_rule(self, study) -> str:
        return stopping_rule_text(study=study)

    def get_pilot(self, study) -> int | None:
        return Study.objects.filter(pilot_of=study).values_list("pk", flat=True).first()

    @extend_schema_field(ScreeningStateSerializer)
    def get_screening(self, study) -> dict:
        return ScreeningStateSerializer(screening.screening_state(study=study)).data


def _from_model(name: str, **kwargs) -> dict:
    """The model field's default and help text, for an input field the API shapes itself (a list)."""
    field = Study._meta.get_field(name)
    return {"default": field.default, "help_text": field.help_text, **kwargs}


class ModelDefaultsSerializer(serializers.ModelSerializer):
    """A model serializer whose fields also take their model field's default, so an omitted
    setting reads as the model says (in the data and in the schema)."""

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if model_field.has_default():
            field_kwargs["default"] = model_field.default
        return field_class, field_kwargs


# A new study's settings are the model's fields (their defaults, choices and help text); the
# design as a whole is checked once, by ``studies.study_create`` (a 400 by field, as here).
class StudyCreateSerializer(ModelDefaultsSerializer):

    models = serializers.ListField(
        child=serializers.CharField(max_length=210), min_length=2,
        help_text='Model spec slugs (latest version) or "slug@version", at least two.',
    )
    prompt_set = UsablePromptSetField(help_text="A prompt set you own, that is shared with you, or a system-owned one.")
    seeds = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_SEED), min_length=1, max_length=MAX_SEEDS,
        help_text=f"Seeds every model gets for every prompt: distinct whole numbers from 0 to {MAX_SEED}, at most {MAX_SEEDS}.",
    )
    criteria = serializers.ListField(child=serializers.CharField(max_length=50), min_length=1, **_from_model("criteria"))
    set_criteria = serializers.ListField(child=serializers.CharField(max_length=50), **_from_model("set_criteria"))
    display_size = serializers.IntegerField(
        min_value=64, max_value=2048, default=GenerationJob._meta.get_field("display_size").default,
        help_text="Width in pixels every image is shown at.",
    )
    attention_check_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=ATTENTION_CHECK_KINDS), min_length=1, **_from_model("attention_check_kinds"),
    )
    start = serializers.BooleanField(default=False, help_text="Start generating images right away.")
    reference = serializers.CharField(
        max_length=210, required=False, allow_null=True, default=None,
        help_text='The model every other is judged against (the teacher): one of models, as listed there ("slug" or "slug@version"). '
        "The study's results then hold a decision per model at versus_margin.",
    )

    class Meta:
        model = Study
        fields = [
            "name", "rater_title", "models", "prompt_set", "seeds", "criteria", "set_criteria", "allow_ties", "display_size",
            "votes_per_pair", "quota_per_rater", "attention_check_kinds", "min_self_consistency", "min_repeats_to_judge", "start",
            *SamplingOptions.names(),
            "design", "reference", "other_pairs_share", "versus_margin",
        ]
        # The API's bounds (the study service checks the rest of the design).
        extra_kwargs = {
            "votes_per_pair": {"min_value": 1, "max_value": 100},
            "quota_per_rater": {"min_value": 1, "max_value": 10000},
            "min_self_consistency": {"min_value": 0, "max_value": 1},
            "min_repeats_to_judge": {"min_value": 1, "max_value": 1000},
            "exploration": {"min_value": 0, "max_value": 1},
            "stop_top_k": {"min_value": None, "max_value": None},
            "vote_budget": {"min_value": None, "max_value": None},
            "other_pairs_share": {"min_value": 0, "max_value": 1},
            "versus_margin": {"min_value": 0, "max_value": 0.49},
            "unit": {"error_messages": {"invalid_choice": f"Unknown unit '{{input}}': use {choices_text(value for value, _ in UNIT_CHOICES)}."}},
        }

    def validate_models(self, references: list[str]) -> list[ModelSpec]:
        return specs_resolve(references, user=self.context["request"].user)

    def validate_seeds(self, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise serializers.ValidationError("Seeds must be distinct.")
        return seeds

    def validate_criteria(self, criteria: list[str]) -> list[str]:
        bad = [c for c in criteria if not CRITERION.match(c)]
        if bad:
            raise serializers.ValidationError(f"Criteria are lower-case words joined by _, e.g. image_quality; not {', '.join(bad)}.")
        return criteria

    def validate_set_criteria(self, set_criteria: list[str]) -> list[str]:
        return self.validate_criteria(set_criteria)

    def validate(self, data: dict) -> dict:
        reference = data.get("reference")
        if reference is not None:
            spec = resolve_spec(reference, user=self.context["request"].user)
            if spec is None or spec not in data["models"]:
                listed = ", ".join(self.initial_data.get("models") or []) if isinstance(self.initial_data.get("models"), list) else ""
                raise serializers.ValidationError({"reference": [f"The reference '{reference}' must be one of the study's models ({listed})."]})
            data["reference"] = spec
        data["sampling_options"] = SamplingOptions.take(data)  # as the study service takes the group: one value
        return data


class StartSerializer(serializers.Serializer):
    status = serializers.CharField()
    batches_queued = serializers.IntegerField(help_text="Generation tasks queued on the gpu queue.")


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField()


def study_document(view, pk: int) -> dict:
    """The study as the API shows it, read again through the view's queryset (its prefetches)."""
    return StudySerializer(view.get_queryset().get(pk=pk)).data


class StudyActions:
    """Create a study, and its ``start``, ``open``, ``pause``, ``resume``, ``close`` and ``share`` steps."""

    def _transition(self, step, **kwargs):
        study = self.get_object()
        with service_errors(studies.StudyStateError):
            step(study=study, **kwargs)
        study.refresh_from_db()
        return Response({"status": study.status})

    @extend_schema(request=StudyCreateSerializer, responses={201: StudySerializer})
    def create(self, request, *args, **kwargs):
        """Create a study, owned by you; with ``start: true`` its images start generating at once."""
        form = StudyCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        start = data.pop("start")
        specs = data.pop("models")
        with service_errors(studies.StudyStateError), transaction.atomic():
            study = studies.study_create(specs=specs, owner=request.user, **data)
            if start:
                studies.study_start_generation(study=study)
        return Response(study_document(self, study.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: StartSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Queue the generation of every missing image. A study starts once; a second start is 409."""
        study = self.get_object()
        with service_errors(studies.StudyStateError):
            batches = studies.study_start_generation(study=study)
        study.refresh_from_db()
        return Response({"status": study.status, "batches_queued": batches}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        """Open the study to raters, once every image exists."""
        return self._transition(studies.study_open)

    @extend_schema(request=None, responses={200: StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Stop serving pairs to raters (generation already queued still runs)."""
        return self._transition(studies.study_pause)

    @extend_schema(request=None, responses={200: StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Back to rating if every image exists, else back to generating."""
        return self._transition(studies.study_resume)

    @extend_schema(request=None, responses={200: StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the study for good; its votes, leaderboards and exports stay."""
        return self._transition(studies.study_close)

    @extend_schema(request=ShareSerializer, responses={200: StudySerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Share the study with other researchers (or stop, with ``remove: true``); owner and staff only."""
        study = self.get_object()
        if not (request.user.is_staff or study.owner_id == request.user.pk):
            raise exceptions.PermissionDenied("Only the study's owner and staff can change whom it is shared with.")
        form = ShareSerializer(data=request.data, context={"shared_with": study.shared_with.all()})
        form.is_valid(raise_exception=True)
        with service_errors():
            if form.validated_data["remove"]:
                studies.study_unshare(study=study, users=form.validated_data["usernames"])
            else:
                studies.study_share(study=study, users=form.validated_data["usernames"])
        return Response(study_document(self, study.pk))
