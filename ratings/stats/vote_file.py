"""Read a vote CSV (Chatbot Arena columns) into `VoteArrays`, validating every row.

Columns (header on line 1, any order, other columns ignored): `model_a`, `model_b`, `winner`
(one of model_a, model_b, tie, tie (bothbad)), and optionally `criterion`, `prompt_id`,
`rater_id`, `tstamp`, `category` (the prompt's category, for a breakdown), `counted` (yes / no:
rows marked no, e.g. votes of flagged raters in an evalsite export, are left out unless asked
for). A file without `criterion` has one criterion, "overall". Lines starting with `#` before the
header (an export's provenance) are skipped.

The votes of one comparison on different criteria are matched by the columns that identify a
shown pair: rows with the same model_a, model_b, prompt_id, rater_id and tstamp (those present)
are one comparison, the k-th such row of each criterion going with the k-th of every other.

Speed: the bytes are split and factorized column by column by a numba kernel (`vote_columns`);
only the distinct values are decoded to Python strings. 1,000,000 rows take about a second.
"""

from __future__ import annotations

import os

import numpy as np

from .arrays import VoteArrays, canonical
from .leaderboard import COMBINED  # reserved: the combined rating's criterion name
from .vote_columns import Columns, FirstProblem, VoteFileError, comparison_ids, file_header

WINNER_OUTCOMES = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")
OPTIONAL_COLUMNS = ("criterion", "prompt_id", "rater_id", "tstamp", "category", "counted")
#: `counted` values that leave a vote out (a flagged, excluded or withdrawn rater's vote).
NOT_COUNTED = ("no", "false", "0")
#: The category of a vote whose `category` cell is empty.
UNCATEGORIZED = "uncategorized"
DEFAULT_CRITERION = "overall"

def parse_vote_bytes(
    data: bytes, *, require_prompt: bool = False, require_rater: bool = False, require_category: bool = False,
    include_uncounted: bool = False,
) -> VoteArrays:
    """`VoteArrays` from the bytes of a vote CSV, in `arrays.canonical` order; raises
    `VoteFileError` at the first bad line.

    require_prompt / require_rater: every row must have a non-empty prompt_id / rater_id (for a
    bootstrap over prompts or raters); require_category: the file must have a category column.
    include_uncounted: keep rows whose `counted` is no."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0 or not data.strip():
        raise VoteFileError(1, None, "the file is empty; expected a header with model_a, model_b, winner")
    header, body_start, header_line = file_header(buf)
    _header_check(header, header_line, require_prompt=require_prompt, require_rater=require_rater, require_category=require_category)
    columns = Columns(buf, header, body_start, header_line + 1, known=REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    if columns.rows == 0:
        raise VoteFileError(header_line + 1, None, "the file has a header but no votes")
    problems = FirstProblem(header)
    _field_count_check(columns, header, problems)
    model_a, model_b, model_names = _models(columns, problems)
    outcome = _outcomes(columns, problems)
    criterion, criterion_names = _criteria(columns, problems)
    key_codes, prompt, rater = _comparison_keys(
        columns, [model_a, model_b], problems, require_prompt=require_prompt, require_rater=require_rater
    )
    category, category_names = _categories(columns)
    keep = None
    if "counted" in columns.wanted and not include_uncounted:
        codes, labels, _ = columns.labels("counted")
        keep = ~np.isin(codes, [i for i, label in enumerate(labels) if label.lower() in NOT_COUNTED])
    problems.raise_first(columns)
    votes = VoteArrays(
        model_a=model_a,
        model_b=model_b,
        outcome=outcome,
        model_names=tuple(model_names),
        criterion=criterion,
        criterion_names=criterion_names,
        comparison=comparison_ids(key_codes, criterion, len(criterion_names)) if criterion is not None else None,
        cluster=prompt,
        rater=rater,
        category=category,
        category_names=tuple(category_names or ()),
        _validated=True,
    )
    if keep is not None and not keep.all():
        votes = votes.subset(keep)
    return canonical(votes)


def _header_check(header: list[str], header_line: int, *, require_prompt: bool, require_rater: bool, require_category: bool) -> None:
    """The columns asked for are there, and no known column twice."""
    needed = REQUIRED_COLUMNS + (("prompt_id",) if require_prompt else ()) + (("rater_id",) if require_rater else ())
    needed += ("category",) if require_category else ()
    for name in needed:
        if name not in header:
            raise VoteFileError(header_line, name, f"missing column {name!r}; the header has: {', '.join(header)}")
    duplicated = sorted({name for name in header if header.count(name) > 1 and name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS})
    if duplicated:
        raise VoteFileError(header_line, duplicated[0], f"column {duplicated[0]!r} appears more than once")


def _field_count_check(columns: Columns, header: list[str], problems: FirstProblem) -> None:
    n_fields = columns.n_fields
    wrong_count = np.flatnonzero(n_fields != len(header))
    if wrong_count.size:  # reported before any other problem of the same row
        row, count = int(wrong_count[0]), int(n_fields[wrong_count[0]])
        if count < len(header):
            column, message = header[count], f"missing field: the row has {count} fields, the header {len(header)}"
        else:
            column, message = header[-1], f"extra field after it: the row has {count} fields, the header {len(header)}"
        problems.add_at(row, -1, column, message)


def _models(columns: Columns, problems: FirstProblem) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(model_a, model_b, model names sorted): codes into the names, -1 for an empty name."""
    names_a, labels_a, _ = columns.labels("model_a")
    names_b, labels_b, _ = columns.labels("model_b")
    model_names = sorted((set(labels_a) | set(labels_b)) - {""})
    index = {name: i for i, name in enumerate(model_names)}
    model_a = np.array([index.get(label, -1) for label in labels_a], dtype=np.int64)[names_a]
    model_b = np.array([index.get(label, -1) for label in labels_b], dtype=np.int64)[names_b]
    problems.add(model_a < 0, "model_a", "empty model name")
    problems.add(model_b < 0, "model_b", "empty model name")
    problems.add(
        (model_a == model_b) & (model_a >= 0),
        "model_b",
        lambda row: f"model_b is model_a ({model_names[model_a[row]]!r}); a model cannot be compared with itself",
    )
    return model_a, model_b, model_names


def _outcomes(columns: Columns, problems: FirstProblem) -> np.ndarray:
    winner_codes, winner_labels, _ = columns.labels("winner")
    outcome_of_label = np.array([WINNER_OUTCOMES.get(label, np.nan) for label in winner_labels])
    outcome = outcome_of_label[winner_codes]
    allowed = ", ".join(WINNER_OUTCOMES)
    problems.add(
        np.isnan(outcome),
        "winner",
        lambda row: f"{winner_labels[winner_codes[row]]!r} is not one of: {allowed}",
    )
    return outcome


def _criteria(columns: Columns, problems: FirstProblem) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """(criterion per row or None, criterion names in order of first appearance)."""
    criterion, criterion_names = None, (DEFAULT_CRITERION,)
    if "criterion" in columns.wanted:
        codes, labels, first_row = columns.labels("criterion")
        by_appearance = np.argsort(first_row, kind="stable")
        rank = np.empty_like(by_appearance)
        rank[by_appearance] = np.arange(by_appearance.size)
        criterion = rank[codes]
        criterion_names = tuple(labels[i] for i in by_appearance)
        reserved = {"": "empty criterion", COMBINED: f"{COMBINED!r} is reserved for the combined rating"}
        for label, message in reserved.items():
            if label in labels:
                problems.add(codes == labels.index(label), "criterion", message)
    return criterion, criterion_names


def _comparison_keys(
    columns: Columns, key_codes: list[np.ndarray], problems: FirstProblem, *, require_prompt: bool, require_rater: bool
) -> tuple[list[np.ndarray], np.ndarray | None, np.ndarray | None]:
    """(the code columns that identify a shown pair, prompt codes or None, rater codes or None)."""
    prompt = rater = None
    for name in ("prompt_id", "rater_id", "tstamp"):
        if name in columns.wanted:
            codes, _ = columns.codes(name)
            key_codes.append(codes)
            if name == "prompt_id":
                prompt = codes
                if require_prompt:
                    slot = columns.wanted.index(name)
                    problems.add(columns.starts[slot] == columns.ends[slot], name, "empty prompt_id")
            if name == "rater_id":
                rater = codes
                if require_rater:
                    slot = columns.wanted.index(name)
                    problems.add(columns.starts[slot] == columns.ends[slot], name, "empty rater_id")
    return key_codes, prompt, rater


def _categories(columns: Columns) -> tuple[np.ndarray | None, list[str] | None]:
    category = category_names = None
    if "category" in columns.wanted:
        codes, labels, _ = columns.labels("category")
        labels = [label or UNCATEGORIZED for label in labels]
        category_names = sorted(set(labels))
        category = np.array([category_names.index(label) for label in labels], dtype=np.int64)[codes]
    return category, category_names


def read_vote_file(path: str | os.PathLike, **options) -> VoteArrays:
    """`parse_vote_bytes` of a file; an unreadable file is a `VoteFileError` at line 1."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise VoteFileError(1, None, f"cannot read {os.fspath(path)!r}: {error.strerror}") from None
    return parse_vote_bytes(data, **options)
