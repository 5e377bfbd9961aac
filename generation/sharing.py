"""Sharing a spec or a prompt set with researchers besides its owner."""

from __future__ import annotations

from django.db import transaction

from .models import ModelSpec, PromptSet


def owned_share(*, thing: ModelSpec | PromptSet, users) -> None:
    """Let ``users`` use a spec or prompt set besides its owner."""
    with transaction.atomic():
        thing.shared_with.add(*users)


def owned_unshare(*, thing: ModelSpec | PromptSet, users) -> None:
    with transaction.atomic():
        thing.shared_with.remove(*users)
