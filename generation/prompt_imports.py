"""Importing an uploaded prompt file into a prompt set, with a report of the rows taken and
the rows refused and why."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from . import prompt_files
from .models import PromptSet
from .prompts import prompt_set_create

# format name -> (parser, file name endings it is guessed from)
FORMATS = {
    "partiprompts": (prompt_files.parse_partiprompts_tsv, (".tsv",)),
    "drawbench": (prompt_files.parse_drawbench_csv, (".csv",)),
    "text": (prompt_files.parse_plain_text, (".txt",)),
    "jsonl": (prompt_files.parse_json_lines, (".jsonl", ".ndjson")),
}


@dataclass
class PromptImport:
    prompt_set: PromptSet
    format: str
    taken: int
    refused: list[dict]


def prompt_file_format(*, filename: str, format: str = "") -> str:
    """The format asked for, or the one the file name's ending implies."""
    if format:
        if format not in FORMATS:
            raise ValidationError({"format": [f"Unknown format '{format}'. Known: {', '.join(FORMATS)}."]})
        return format
    for name, (_, endings) in FORMATS.items():
        if filename.lower().endswith(endings):
            return name
    raise ValidationError(
        {"format": [f"Cannot tell the format of '{filename}' from its name; give format= one of {', '.join(FORMATS)}."]}
    )


def prompt_set_import(*, name: str, filename: str, raw: bytes, format: str = "", strict: bool = False, owner=None) -> PromptImport:
    """Parse a prompt file and save the rows taken as a new prompt set.

    Nothing is saved when the file cannot be read, when no row is usable, or (``strict``)
    when any row is refused; ``ValidationError`` then says why, line by line."""
    format = prompt_file_format(filename=filename, format=format)
    parser, _ = FORMATS[format]
    try:
        report = parser(raw)
    except prompt_files.PromptFileError as error:
        raise ValidationError({"file": [str(error)]}) from None
    if len(report.taken) > prompt_files.MAX_PROMPTS:
        raise ValidationError({"file": [f"{len(report.taken)} prompts; a prompt set holds at most {prompt_files.MAX_PROMPTS}. Split the file."]})
    refusals = [f"Line {row['line']}: {row['reason']}" for row in report.refused]
    if not report.taken:
        raise ValidationError({"file": ["No usable prompt in the file."] + refusals[:20]})
    if strict and refusals:
        raise ValidationError({"file": [f"{len(refusals)} rows refused and strict=true, so nothing was saved."] + refusals[:20]})
    prompt_set = prompt_set_create(name=name, prompts=report.taken, source=format, owner=owner)
    return PromptImport(prompt_set=prompt_set, format=format, taken=len(report.taken), refused=report.refused)
