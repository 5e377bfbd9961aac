"""Writes of prompt sets (importing one from a file: ``prompt_imports``; the shipped ones:
``builtin_prompts``)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from .models import Prompt, PromptSet


def prompt_set_create(*, name: str, prompts: Sequence[dict], source: str = "", owner=None) -> PromptSet:
    """A prompt set from dicts with ``text`` and optional ``category``, ``challenge``,
    ``source_id``, owned by ``owner`` (``None``: system-owned, usable by every researcher)."""
    with transaction.atomic():
        prompt_set = PromptSet.objects.create(name=name, source=source, owner=owner)
        Prompt.objects.bulk_create(
            Prompt(
                prompt_set=prompt_set,
                position=position,
                text=row["text"],
                category=row.get("category", ""),
                challenge=row.get("challenge", ""),
                source_id=str(row.get("source_id", "")),
            )
            for position, row in enumerate(prompts)
        )
    return prompt_set
