"""Prompt sets that ship with the project, read from files inside the package (``generation/data/``).

PartiPrompts (Yu et al. 2022, "Scaling Autoregressive Models for Content-Rich Text-to-Image
Generation"): 1632 prompts with a category and a challenge each, from
https://github.com/google-research/parti (``PartiPrompts.tsv``), under the Apache License 2.0
whose text is ``generation/data/PartiPrompts.LICENSE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class BuiltinPromptSet:
    key: str
    name: str
    format: str  # a format of generation.prompt_imports.FORMATS
    file_name: str
    licence_file_name: str
    source_url: str

    @property
    def path(self) -> Path:
        return DATA_DIR / self.file_name

    @property
    def licence_path(self) -> Path:
        return DATA_DIR / self.licence_file_name


BUILTIN_PROMPT_SETS = {
    "partiprompts": BuiltinPromptSet(
        key="partiprompts",
        name="PartiPrompts",
        format="partiprompts",
        file_name="PartiPrompts.tsv",
        licence_file_name="PartiPrompts.LICENSE",
        source_url="https://github.com/google-research/parti",
    ),
}


def builtin_prompt_set(key: str) -> BuiltinPromptSet:
    """The built-in set named ``key``; ``ValidationError`` names the known ones otherwise."""
    try:
        return BUILTIN_PROMPT_SETS[key]
    except KeyError:
        raise ValidationError(
            {"builtin": [f"Unknown built-in prompt set '{key}'. Known: {', '.join(BUILTIN_PROMPT_SETS)}."]}
        ) from None


def builtin_prompt_set_import(*, key: str, name: str = "", strict: bool = True, owner=None):
    """Import a built-in prompt set as a new prompt set (a ``PromptImport``, as for an upload),
    owned by ``owner``: the researcher who asked through the API; ``None`` (system-owned, seen by
    every researcher) only from the server's command line (``manage.py import_prompts``)."""
    # Here, not at the top: the catalogue (BUILTIN_PROMPT_SETS) is read without Django set up.
    from .prompt_imports import prompt_set_import

    builtin = builtin_prompt_set(key)
    return prompt_set_import(
        name=name or builtin.name, filename=builtin.file_name, raw=builtin.path.read_bytes(), format=builtin.format, strict=strict,
        owner=owner,
    )
