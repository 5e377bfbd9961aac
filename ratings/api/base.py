"""What every resource of the studies API shares: the study every action starts from, the
answers for a queued computation and a refused step, file downloads, models named by slug."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation

from generation.models import ModelSpec

from ..models import Study


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What happened, in a sentence.")


PENDING = OpenApiResponse(DetailSerializer, description="Too heavy for a request: queued as a task; ask again later (without recompute).")
CONFLICT = OpenApiResponse(DetailSerializer, description="The study's status does not allow this step; the message says why.")


def study_default(name: str):
    """A study setting's default, declared on the model (for inputs that describe a study, as a forecast's do)."""
    return Study._meta.get_field(name).get_default()


def choices_text(values) -> str:
    """``a, b or c``: the choices a message names."""
    values = list(values)
    return " or ".join([", ".join(values[:-1]), values[-1]]) if len(values) > 1 else "".join(values)


def default_first(values, default: str) -> list[str]:
    """The choices with the default first, as the schema and messages list them."""
    return [default, *(value for value in values if value != default)]


class FormatIsAQueryParameter(DefaultContentNegotiation):
    """For downloads whose ``format`` query parameter names the file's format (the report): the
    parameter is the view's, not DRF's renderer override, so errors are still answered in JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def file_response(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class SpecBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelSpec
        fields = ["id", "slug", "version", "name", "is_external"]


def resolve_spec(reference: str, *, user) -> ModelSpec | None:
    """``slug`` (its latest version) or ``slug@version``, among the specs ``user`` may use."""
    from generation.selectors import spec_resolve

    return spec_resolve(reference=reference, user=user)


def specs_resolve(references: list[str], *, user) -> list[ModelSpec]:
    """The models named (as ``resolve_spec`` reads them), each once; a 400 naming every unknown or repeated one."""
    specs, errors = [], []
    for reference in references:
        spec = resolve_spec(reference, user=user)
        if spec is None:
            errors.append(f"Unknown model spec '{reference}'. List them with GET /api/v1/specs/.")
        elif spec in specs:
            errors.append(f"'{reference}' is listed twice.")
        else:
            specs.append(spec)
    if errors:
        raise serializers.ValidationError(errors)
    return specs
