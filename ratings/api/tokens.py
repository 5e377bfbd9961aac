"""The researcher's API token, for a username and password."""

from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response

from common.api import is_researcher


class ResearcherTokenView(ObtainAuthToken):
    """Trade a researcher's username and password for their API token."""

    def post(self, request, *args, **kwargs):
        from axes.helpers import get_lockout_message

        form = self.serializer_class(data=request.data, context={"request": request})
        valid = form.is_valid()
        if getattr(request, "axes_locked_out", False) or getattr(request._request, "axes_locked_out", False):
            # django-axes: too many failed attempts for this username, right password or not.
            return Response({"detail": get_lockout_message()}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        if not valid:
            raise exceptions.ValidationError(form.errors)
        user = form.validated_data["user"]
        if not is_researcher(user):
            # The same answer as a wrong password: the endpoint must not confirm a rater's password.
            raise exceptions.ValidationError({"non_field_errors": [gettext("Unable to log in with provided credentials.")]}, code="authorization")
        from rest_framework.authtoken.models import Token

        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
