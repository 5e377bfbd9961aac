"""Images for raters: a served comparison's images (a pair's, a set's), the instructions'
examples and the screener's, all blinded: PNG bytes at the study's display size with the same
headers for every model, no file name, date or validator that could tell two models apart."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from generation import png

from .. import crowd, identity, selectors
from ..identity import rater_page
from ..images import degrade_png
from ..models import Participation, Study

EXAMPLE_CACHE_SECONDS = 24 * 3600


def _png_response(request: HttpRequest, content: bytes) -> HttpResponse:
    """A rater's image: the PNG with the same headers for every model (Content-Length is fixed
    per display size); HEAD gets those headers, its Content-Length included, and no body."""
    response = HttpResponse(b"" if request.method == "HEAD" else content, content_type="image/png")
    response["Content-Length"] = str(len(content))
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _stored_png_response(request: HttpRequest, name: str | None) -> HttpResponse:
    """A stored image served to the rater it was served to (``name`` None: not theirs, a 404),
    blinded: fixed length for its size, so Content-Length tells no model or decoy apart (issue 18)."""
    if name is None:
        raise Http404("No such image.")
    with default_storage.open(name, "rb") as handle:
        content = png.blind(handle.read())
    return _png_response(request, content)


@require_safe
def image(request: HttpRequest, study_id: int, token: uuid.UUID, side: str) -> HttpResponse:
    """The left or right image of a pair served to this rater: PNG bytes at the study's display
    size, with no file name, date or validator that could tell two models apart."""
    rater_id = identity.cookie_rater_id(request, study_id)
    name = selectors.comparison_image_file(study_id=study_id, rater_id=rater_id, token=token, side=side) if rater_id else None
    return _stored_png_response(request, name)


@require_safe
def set_image(request: HttpRequest, study_id: int, token: uuid.UUID, side: str, index: int) -> HttpResponse:
    """Image ``index`` (in the order of the study's seeds) of the left or right set of a set
    comparison served to this rater: blinded as ``image`` is (same size, same length, no name)."""
    rater_id = identity.cookie_rater_id(request, study_id)
    name = (
        selectors.comparison_set_image_file(study_id=study_id, rater_id=rater_id, token=token, side=side, index=index)
        if rater_id else None
    )
    return _stored_png_response(request, name)


@require_safe
@rater_page
def example_image(request: HttpRequest, study: Study, participation: Participation, kind: str) -> HttpResponse:
    """The instructions' example pairs: a clear image, a degraded copy of it, and an image made
    for another prompt. Only for the study's participants: they are the study's own images."""
    if study.status != Study.Status.RATING:
        raise Http404("No such example.")
    if kind not in ("clear", "degraded", "unrelated"):
        raise Http404("No such example.")
    # Made once per study and kept: a degraded copy costs a blur of a full-size image.
    key = f"ratings:example:{study.pk}:{study.display_size}:{kind}"
    content = cache.get(key)
    if content is None:
        example = selectors.example_pair(study=study)
        if example is None:
            raise Http404("No such example.")
        name = example["unrelated_file"] if kind == "unrelated" else example["clear_file"]
        with default_storage.open(name, "rb") as handle:
            content = handle.read()
        content = degrade_png(content, seed=study.pk) if kind == "degraded" else png.blind(content)
        cache.set(key, content, EXAMPLE_CACHE_SECONDS)
    return _png_response(request, content)


@require_safe
@rater_page
def screener_image(request: HttpRequest, study: Study, participation: Participation, number: int, side: str) -> HttpResponse:
    """An image of a screener question: one of the study's images (display copy, blinded) or
    a degraded copy of it, on the side this participant sees it."""
    shown = crowd.screener_image(study=study, participation=participation, number=number, side=side)
    if shown is None or not crowd.screener_pending(study=study, participation=participation):
        raise Http404("No such image.")
    image_id, degraded = shown
    key = f"ratings:screener:{study.pk}:{study.display_size}:{image_id}:{int(degraded)}"
    content = cache.get(key)
    if content is None:
        name = selectors.display_copy_file(image_id=image_id, size=study.display_size)
        if name is None:
            raise Http404("No such image.")
        with default_storage.open(name, "rb") as handle:
            content = handle.read()
        content = degrade_png(content, seed=study.pk) if degraded else png.blind(content)
        cache.set(key, content, EXAMPLE_CACHE_SECONDS)
    return _png_response(request, content)
