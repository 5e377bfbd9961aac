"""The prompt sets that ship with the project: PartiPrompts with its licence, imported by
`manage.py import_prompts --builtin partiprompts` (the API: tests/generation/api/test_views_builtin_prompt_sets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generation.builtin_prompts import BUILTIN_PROMPT_SETS
from generation.models import Prompt, PromptSet

ROOT = Path(__file__).resolve().parents[2]


def test_partiprompts_and_its_licence_are_inside_the_repository():
    builtin = BUILTIN_PROMPT_SETS["partiprompts"]
    assert builtin.path.is_relative_to(ROOT) and builtin.licence_path.is_relative_to(ROOT)
    assert "Apache License" in builtin.licence_path.read_text() and "Version 2.0" in builtin.licence_path.read_text()
    assert builtin.path.read_text().startswith("Prompt\tCategory\tChallenge\tNote\n")


@pytest.mark.django_db
def test_import_command_imports_the_builtin_partiprompts(capsys):
    call_command("import_prompts", "--builtin", "partiprompts")
    prompt_set = PromptSet.objects.get()
    assert prompt_set.name == "PartiPrompts" and prompt_set.source == "partiprompts"
    assert prompt_set.prompts.count() == 1632
    first = prompt_set.prompts.order_by("position").first()
    assert (first.text, first.category, first.challenge) == ("bond", "Abstract", "Basic")
    assert f"Prompt set {prompt_set.pk} 'PartiPrompts': 1632 prompts taken, 0 refused" in capsys.readouterr().out


@pytest.mark.django_db
def test_import_command_reads_a_file_and_refuses_an_unreadable_one_saving_nothing(tmp_path, capsys):
    good = tmp_path / "mine.txt"
    good.write_text("a fox\n\na tower\n")
    call_command("import_prompts", "--file", str(good))
    assert list(Prompt.objects.order_by("position").values_list("text", flat=True)) == ["a fox", "a tower"]
    with pytest.raises(CommandError, match="Cannot read .*missing.txt"):
        call_command("import_prompts", "--file", str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.tsv"
    bad.write_text("text,category\n")
    with pytest.raises(CommandError, match="Nothing was imported:\n  file: Line 1: a PartiPrompts TSV starts with"):
        call_command("import_prompts", "--file", str(bad))
    assert PromptSet.objects.count() == 1
