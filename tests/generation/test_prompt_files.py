from pathlib import Path

import pytest

from generation.builtin_prompts import BUILTIN_PROMPT_SETS
from generation.prompt_files import PromptFileError, parse_partiprompts_tsv, parse_plain_text

ROOT = Path(__file__).resolve().parents[2]


def test_partiprompts_tsv_reads_every_prompt_with_category_and_challenge():
    # The copy that ships inside the package: a clone anywhere has it.
    path = BUILTIN_PROMPT_SETS["partiprompts"].path
    assert path.is_relative_to(ROOT)
    report = parse_partiprompts_tsv(path.read_bytes())
    assert len(report.taken) == 1632
    assert report.refused == []
    first = report.taken[0]
    assert (first["text"], first["category"], first["challenge"]) == ("bond", "Abstract", "Basic")


def test_malformed_rows_are_refused_with_line_and_reason():
    raw = b"Prompt\tCategory\tChallenge\tNote\na cat\tAnimals\tBasic\t\n\tAnimals\tBasic\t\nonly one column\n"
    report = parse_partiprompts_tsv(raw)
    assert [row["text"] for row in report.taken] == ["a cat"]
    assert report.refused == [
        {"line": 3, "reason": "The prompt is empty."},
        {"line": 4, "reason": "Expected 4 tab-separated columns, found 1."},
    ]


def test_wrong_header_and_wrong_encoding_are_refused_with_the_line():
    with pytest.raises(PromptFileError, match="Line 1: a PartiPrompts TSV starts with"):
        parse_partiprompts_tsv(b"text,category\na,b\n")
    with pytest.raises(PromptFileError, match="Line 2: the file is not UTF-8"):
        parse_plain_text("first\nbl\u00e5b\u00e6r\n".encode("latin-1"))
