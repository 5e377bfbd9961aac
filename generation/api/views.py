"""The generation API: model specs, presets, external images and prompt sets."""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from common.api import ResearcherAPIMixin, service_errors

from .. import selectors, sharing, specs, uploads
from ..models import ModelSpec, PromptSet
from ..presets import PRESETS
from ..builtin_prompts import builtin_prompt_set_import
from ..prompt_imports import prompt_set_import
from . import serializers


class ModelSpecFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ModelSpec
        fields = ["slug", "name", "pipeline_class", "is_external", "dtype", "steps"]


def installed_presets():
    """Specs installed from the shipped presets (``python manage.py install_presets``)."""
    return ModelSpec.objects.filter(slug__in=[preset["slug"] for preset in PRESETS], is_external=False, owner__isnull=True)


class OwnedAPIMixin:
    """Specs and prompt sets follow the studies' rule: a researcher reaches what is theirs,
    shared with them, or system-owned (others answer 404); only the owner (or staff) changes one."""

    def _check_owner(self, thing, what: str) -> None:
        user = self.request.user
        if user.is_staff or (thing.owner_id is not None and thing.owner_id == user.pk):
            return
        if thing.owner_id is None:
            raise exceptions.PermissionDenied(f"This {what} is system-owned (a preset or the tiny family): it is read-only.")
        raise exceptions.PermissionDenied(f"Only the {what}'s owner and staff can change it; it is shared with you to use only.")

    def _share(self, request, thing, what: str):
        self._check_owner(thing, what)
        form = serializers.ShareSerializer(data=request.data, context={"shared_with": thing.shared_with.all()})
        form.is_valid(raise_exception=True)
        share = sharing.owned_unshare if form.validated_data["remove"] else sharing.owned_share
        share(thing=thing, users=form.validated_data["usernames"])
        return Response({"id": thing.pk, "shared_with": sorted(thing.shared_with.values_list("username", flat=True))})


class ModelSpecViewSet(ResearcherAPIMixin, OwnedAPIMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Model specs: the systems a study compares; you reach yours, those shared with you and
    the system-owned presets."""

    serializer_class = serializers.ModelSpecSerializer
    filterset_class = ModelSpecFilter
    ordering_fields = ["slug", "version", "created_at", "steps"]
    ordering = ["slug", "version"]

    queryset = ModelSpec.objects.none()  # for the schema; requests use get_queryset

    @property
    def throttle_scope(self) -> str | None:
        return "upload" if getattr(self, "action", None) == "images" else None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelSpec.objects.none()
        return selectors.specs_usable_by(user=self.request.user).annotate(image_count=Count("images")).order_by("slug", "version")

    @extend_schema(request=serializers.ModelSpecCreateSerializer, responses={201: serializers.ModelSpecSerializer})
    def create(self, request, *args, **kwargs):
        """Create a generated system's spec, owned by you (the next version if the slug is yours;
        a slug of someone else's is refused)."""
        form = serializers.ModelSpecCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            spec = specs.model_spec_create(owner=request.user, local_root=settings.EVALSITE_MODELS_DIR, **form.validated_data)
        return self._created(spec)

    @extend_schema(request=serializers.ExternalSpecCreateSerializer, responses={201: serializers.ModelSpecSerializer})
    @action(detail=False, methods=["post"])
    def external(self, request):
        """Create the spec of an external system whose images you upload (Midjourney, DALL-E 3...)."""
        form = serializers.ExternalSpecCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            spec = uploads.external_spec_create(owner=request.user, **form.validated_data)
        return self._created(spec)

    def _created(self, spec):
        spec = self.get_queryset().get(pk=spec.pk)
        return Response(serializers.ModelSpecSerializer(spec, context={"request": self.request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=serializers.ModelSpecSerializer(many=True))
    @action(detail=False, methods=["get"])
    def presets(self, request):
        """Specs of the real systems shipped as presets and installed on this server."""
        queryset = self.filter_queryset(installed_presets().annotate(image_count=Count("images")))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializers.ModelSpecSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(request=serializers.ExternalImagesUploadSerializer, responses={201: serializers.ExternalImagesReportSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def images(self, request, pk=None):
        """Upload an external system's images: a zip with one image per prompt x seed, named
        ``<prompt position>_<seed>.png``, each at the spec's size. All or nothing."""
        spec = self.get_object()
        self._check_owner(spec, "spec")
        form = serializers.ExternalImagesUploadSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        with service_errors():
            result = uploads.external_images_import(
                spec=spec, prompt_set=data["prompt_set"], seeds=data["seeds"], archive=data["file"], latency_s=data["latency_s"]
            )
        report = {"spec": spec.pk, "prompt_set": data["prompt_set"].pk, "seeds": result.seeds, "images": len(result.images)}
        return Response(report, status=status.HTTP_201_CREATED)


    @extend_schema(request=serializers.SpecSweepSerializer, responses={201: serializers.SpecSweepResultSerializer})
    @action(detail=True, methods=["post"])
    def sweep(self, request, pk=None):
        """Make this spec's versions at several step counts (and guidance scales) in one call, each a
        normal version of its slug with its own speed measured on a GPU worker; owner and staff only
        (a preset is system-owned: create your own spec from it first)."""
        spec = self.get_object()
        self._check_owner(spec, "spec")
        form = serializers.SpecSweepSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        with service_errors():
            made = specs.model_spec_sweep(spec=spec, steps=data["steps"], guidance_scales=data.get("guidance_scales"))
            queued = specs.spec_speeds_queue(specs=[version for version, _ in made], runs=data["runs"], warmup=data["warmup"]) if data["measure_speed"] else 0
        annotated = {row.pk: row for row in self.get_queryset().filter(pk__in=[version.pk for version, _ in made])}
        versions = []
        for version, created in made:
            row = annotated[version.pk]
            row.created = created
            versions.append(row)
        body = {"versions": serializers.SpecSweepVersionSerializer(versions, many=True).data, "speed_measurements_queued": queued}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.ShareSerializer, responses={200: serializers.SharedWithSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Let other researchers use this spec in their studies (or stop, with ``remove: true``); owner and staff only."""
        return self._share(request, self.get_object(), "spec")


class PromptSetFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = PromptSet
        fields = ["name", "source"]


class PromptSetViewSet(ResearcherAPIMixin, OwnedAPIMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Prompt sets, uploaded from PartiPrompts, DrawBench, plain text or JSON lines."""

    serializer_class = serializers.PromptSetSerializer
    filterset_class = PromptSetFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["-created_at"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    queryset = PromptSet.objects.none()  # for the schema; requests use get_queryset

    @property
    def throttle_scope(self) -> str | None:
        return "upload" if getattr(self, "action", None) == "create" else None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PromptSet.objects.none()
        return selectors.prompt_sets_usable_by(user=self.request.user).annotate(prompt_count=Count("prompts")).order_by("-created_at")

    @extend_schema(request={"multipart/form-data": serializers.PromptSetUploadSerializer, "application/json": serializers.PromptSetUploadSerializer}, responses={201: serializers.PromptSetReportSerializer})
    def create(self, request, *args, **kwargs):
        """Upload a prompt file, or name a built-in set (``{"builtin": "partiprompts"}``); the answer
        reports the rows taken and the rows refused and why."""
        form = serializers.PromptSetUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if "builtin" in form.validated_data:
            with service_errors():
                result = builtin_prompt_set_import(
                    key=form.validated_data["builtin"], name=form.validated_data.get("name", ""), owner=request.user
                )
            return self._report(result)
        upload = form.validated_data["file"]
        if upload.size > settings.EVALSITE_MAX_PROMPT_FILE_BYTES:
            return Response(
                {"file": [f"The file is {upload.size / 1024**2:.1f} MB ({upload.size} bytes); the limit is {settings.EVALSITE_MAX_PROMPT_FILE_BYTES} bytes (EVALSITE_MAX_PROMPT_FILE_BYTES)."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        with service_errors():
            result = prompt_set_import(
                name=form.validated_data["name"],
                filename=upload.name,
                raw=upload.read(),
                format=form.validated_data.get("format", ""),
                strict=form.validated_data["strict"],
                owner=request.user,
            )
        return self._report(result)

    def _report(self, result) -> Response:
        report = {
            "prompt_set": serializers.PromptSetSerializer(self.get_queryset().get(pk=result.prompt_set.pk)).data,
            "format": result.format,
            "taken": result.taken,
            "refused": result.refused,
        }
        return Response(report, status=status.HTTP_201_CREATED)

    @extend_schema(responses=serializers.PromptSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def prompts(self, request, pk=None):
        """The set's prompts in order; ``position`` is what external image names refer to."""
        prompt_set = self.get_object()
        page = self.paginate_queryset(prompt_set.prompts.order_by("position"))
        return self.get_paginated_response(serializers.PromptSerializer(page, many=True).data)

    @extend_schema(request=serializers.ShareSerializer, responses={200: serializers.SharedWithSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Let other researchers use this prompt set (or stop, with ``remove: true``); owner and staff only."""
        return self._share(request, self.get_object(), "prompt set")
