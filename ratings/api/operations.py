"""Study operations (issue 15; the rules in ratings/cloning.py, pilots.py, screening.py): the
crowd links, cloning into a draft, the pilot, and models added to a draft."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import service_errors

from .. import cloning, pilots, screening, selectors, studies
from .base import CONFLICT, specs_resolve
from .studies import StudySerializer, study_document


class CloneSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, help_text='Name of the new draft; default "Copy of <name>".')


class PilotSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, help_text='Default "Pilot of <name>".')
    quota_per_rater = serializers.IntegerField(required=False, min_value=1, max_value=10000, help_text="Comparisons per pilot rater; default the main study's.")
    max_participants = serializers.IntegerField(required=False, min_value=1, help_text="Cap on pilot raters; default the main study's.")


class ModelsAddSerializer(serializers.Serializer):
    models = serializers.ListField(
        child=serializers.CharField(max_length=210), min_length=1,
        help_text='Model spec slugs (latest version) or "slug@version" to add to the draft.',
    )

    def validate_models(self, references: list[str]) -> list:
        return specs_resolve(references, user=self.context["request"].user)


class CrowdLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The link to hand to the platform (a secret: whoever has it can take part).")
    use = serializers.CharField(help_text="Where the link goes on the platform and what the platform adds to it.")


class CrowdLinksSerializer(serializers.Serializer):
    prolific = CrowdLinkSerializer()
    mturk = CrowdLinkSerializer()
    open_to_crowd = serializers.BooleanField(help_text="Whether the links let participants in now (open for rating, images screened).")
    problem = serializers.CharField(help_text="Why the links do not let participants in yet, or empty.")


class OperationActions:
    """``links``, ``clone``, ``pilot`` and ``models`` of a study."""

    @extend_schema(responses=CrowdLinksSerializer, filters=False)
    @action(detail=True, methods=["get"])
    def links(self, request, pk=None):
        """The study's crowd links (Prolific, MTurk) with where each goes on its platform, and
        whether they let participants in yet. A pilot has links of its own."""
        study = self.get_object()
        problem = screening.crowd_links_problem(study=study)
        links = selectors.study_crowd_links(study=study, site=request.build_absolute_uri("/"))
        return Response({**links, "open_to_crowd": not problem, "problem": problem})

    @extend_schema(request=CloneSerializer, responses={201: StudySerializer})
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        """Clone the study into a new draft that you own: models, prompt set, seeds, criteria and
        every rater-side setting; its images are reused (nothing is generated again). Never
        copied: votes, participants, status, link secrets and completion codes."""
        study = self.get_object()
        form = CloneSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            copy = cloning.study_clone(study=study, by=request.user, name=form.validated_data.get("name"))
        return Response(study_document(self, copy.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=PilotSerializer, responses={201: StudySerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def pilot(self, request, pk=None):
        """Start the study's pilot (owner and staff): a clone with every setting and the same
        images, with its own links, leaderboard and exports. Its votes never count in this
        study's results; they inform this study's forecast. One pilot per study."""
        study = self.get_object()
        form = PilotSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors(studies.StudyStateError):
            pilot = pilots.study_pilot_start(study=study, by=request.user, **form.validated_data)
        return Response(study_document(self, pilot.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelsAddSerializer, responses={200: StudySerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def models(self, request, pk=None):
        """Add models to a draft (a clone, typically); starting generation then makes only their images."""
        study = self.get_object()
        form = ModelsAddSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        with service_errors(studies.StudyStateError):
            cloning.study_models_add(study=study, specs=form.validated_data["models"])
        return Response(study_document(self, study.pk))
