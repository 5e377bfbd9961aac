"""Reading prompt files: PartiPrompts TSV and plain text (one prompt a line).

Parsing never writes: it returns the rows taken and the rows refused with the reason, so a
caller can refuse a whole file and save nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

MAX_PROMPT_LENGTH = 2000
# PartiPrompts has 1,632 prompts and DrawBench 200; a study of more is a mistake, and a file of
# millions of one-character lines would take minutes and gigabytes to turn into rows.
MAX_PROMPTS = 10_000
MAX_LINES = 2 * MAX_PROMPTS


class PromptFileError(ValueError):
    """A prompt file that cannot be read at all; the message says where and why."""


@dataclass
class PromptFileReport:
    taken: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)  # {"line": n, "reason": "..."}


def _decode(raw: bytes) -> str:
    lines = raw.count(b"\n") + 1
    if lines > MAX_LINES:
        raise PromptFileError(
            f"The file has {lines} lines; a prompt set holds at most {MAX_PROMPTS} prompts ({MAX_LINES} lines with blanks and "
            "refused rows). Split it into several prompt sets."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PromptFileError(f"Line {line}: the file is not UTF-8 text (byte {error.start}). Save it as UTF-8 and try again.") from None


def _check_text(text: str, line: int, report: PromptFileReport) -> str | None:
    text = text.strip()
    if not text:
        report.refused.append({"line": line, "reason": "The prompt is empty."})
        return None
    if len(text) > MAX_PROMPT_LENGTH:
        report.refused.append({"line": line, "reason": f"The prompt is longer than {MAX_PROMPT_LENGTH} characters."})
        return None
    return text


def parse_partiprompts_tsv(raw: bytes) -> PromptFileReport:
    """PartiPrompts' TSV: a header with ``Prompt``, ``Category``, ``Challenge`` (``Note`` optional)."""
    text = _decode(raw)
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    required = ["Prompt", "Category", "Challenge"]
    if header is None or any(column not in header for column in required):
        raise PromptFileError(
            f"Line 1: a PartiPrompts TSV starts with a tab-separated header holding {', '.join(required)}; found {header!r}."
        )
    index = {name: header.index(name) for name in required}
    report = PromptFileReport()
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            report.refused.append({"line": line, "reason": f"Expected {len(header)} tab-separated columns, found {len(row)}."})
            continue
        prompt = _check_text(row[index["Prompt"]], line, report)
        if prompt is None:
            continue
        report.taken.append(
            {
                "text": prompt,
                "category": row[index["Category"]].strip(),
                "challenge": row[index["Challenge"]].strip(),
                "source_id": str(line - 1),
            }
        )
    return report


def parse_plain_text(raw: bytes) -> PromptFileReport:
    report = PromptFileReport()
    for line, text in enumerate(_decode(raw).splitlines(), start=1):
        if not text.strip():
            continue
        prompt = _check_text(text, line, report)
        if prompt is not None:
            report.taken.append({"text": prompt, "source_id": str(line)})
    return report


def parse_drawbench_csv(raw: bytes) -> PromptFileReport:
    """DrawBench's CSV: a header with ``Prompts`` and ``Category``, quoted as CSV quotes."""
    reader = csv.reader(io.StringIO(_decode(raw)))
    header = [cell.strip() for cell in next(reader, None) or []]
    required = ["Prompts", "Category"]
    if any(column not in header for column in required):
        raise PromptFileError(f"Line 1: a DrawBench CSV starts with a header holding {', '.join(required)}; found {header!r}.")
    index = {name: header.index(name) for name in required}
    report = PromptFileReport()
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) <= max(index.values()):
                report.refused.append({"line": line, "reason": f"Expected {len(header)} comma-separated columns, found {len(row)}."})
                continue
            prompt = _check_text(row[index["Prompts"]], line, report)
            if prompt is not None:
                report.taken.append({"text": prompt, "category": row[index["Category"]].strip(), "source_id": str(line - 1)})
    except csv.Error as error:
        raise PromptFileError(f"Line {reader.line_num}: not valid CSV ({error}).") from None
    return report


def parse_json_lines(raw: bytes) -> PromptFileReport:
    """JSON lines: one object per line, ``{"text": ..., "category": ...}`` (``challenge``, ``id`` optional)."""
    import json

    report = PromptFileReport()
    for line, source in enumerate(_decode(raw).splitlines(), start=1):
        if not source.strip():
            continue
        try:
            row = json.loads(source)
        except json.JSONDecodeError as error:
            report.refused.append({"line": line, "reason": f"Not valid JSON ({error.msg} at column {error.colno})."})
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            report.refused.append({"line": line, "reason": 'Each line must be an object with a "text" string.'})
            continue
        prompt = _check_text(row["text"], line, report)
        if prompt is None:
            continue
        extra = {key: row[key] for key in ("category", "challenge") if key in row}
        if any(not isinstance(value, str) for value in extra.values()):
            report.refused.append({"line": line, "reason": '"category" and "challenge" must be strings.'})
            continue
        report.taken.append({"text": prompt, **extra, "source_id": str(row.get("id", line))})
    return report
