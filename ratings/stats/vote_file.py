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

Speed: a numba kernel splits the bytes into fields (RFC 4180 quoting, LF or CRLF) and hashes
each field; `np.unique` on the hashes factorizes every column, and a second pass checks that
equal hashes are equal bytes, so the result is exact. Only the distinct values are decoded to
Python strings. 1,000,000 rows take about a second.
"""

from __future__ import annotations

import csv
import os

from . import numba_cache  # noqa: F401  (before numba: where kernels are cached)
import numba
import numpy as np

from .arrays import VoteArrays, canonical
from .leaderboard import COMBINED  # reserved: the combined rating's criterion name

WINNER_OUTCOMES = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")
OPTIONAL_COLUMNS = ("criterion", "prompt_id", "rater_id", "tstamp", "category", "counted")
#: `counted` values that leave a vote out (a flagged, excluded or withdrawn rater's vote).
NOT_COUNTED = ("no", "false", "0")
#: The category of a vote whose `category` cell is empty.
UNCATEGORIZED = "uncategorized"
DEFAULT_CRITERION = "overall"

_COMMA, _QUOTE, _LF, _CR = 44, 34, 10, 13
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
#: Kernel status codes.
_OK, _UNTERMINATED, _AFTER_QUOTE = 0, 1, 2


class VoteFileError(ValueError):
    """A problem in a vote file: the 1-based file line (header = line 1), the column (None when
    the problem is not in one column) and what is wrong."""

    def __init__(self, line: int, column: str | None, message: str):
        self.line, self.column, self.message = line, column, message
        where = f"line {line}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {message}")


@numba.njit(cache=True)
def _tokenize(buf, pos, first_line, slot_of_column, n_slots, max_rows):
    """Split buf[pos:] into rows and fields. For each row: its first line, its field count; for
    each wanted column (slot_of_column[field] >= 0): FNV-1a hash of the unescaped value, the
    content's byte range (inside the quotes) and whether it holds doubled quotes.
    Returns (status, rows, row_line, n_fields, hashes, starts, ends, escaped, bad_field)."""
    n = buf.size
    n_columns = slot_of_column.size
    row_line = np.empty(max_rows, np.int64)
    n_fields = np.empty(max_rows, np.int64)
    hashes = np.full((n_slots, max_rows), _FNV_OFFSET, np.uint64)
    starts = np.zeros((n_slots, max_rows), np.int64)
    ends = np.zeros((n_slots, max_rows), np.int64)
    escaped = np.zeros((n_slots, max_rows), np.bool_)
    line = first_line
    row = 0
    while pos < n:
        ch = buf[pos]
        if ch == _LF or ch == _CR:  # a blank line
            pos += 2 if ch == _CR and pos + 1 < n and buf[pos + 1] == _LF else 1
            line += 1
            continue
        row_line[row] = line
        field = 0
        while True:
            slot = slot_of_column[field] if field < n_columns else -1
            h = _FNV_OFFSET
            doubled = False
            if pos < n and buf[pos] == _QUOTE:
                pos += 1
                start = pos
                while True:
                    if pos >= n:
                        n_fields[row] = field
                        return _UNTERMINATED, row + 1, row_line, n_fields, hashes, starts, ends, escaped, field
                    ch = buf[pos]
                    if ch == _QUOTE:
                        if pos + 1 < n and buf[pos + 1] == _QUOTE:
                            doubled = True
                            h = (h ^ np.uint64(ch)) * _FNV_PRIME
                            pos += 2
                            continue
                        break
                    if ch == _LF or (ch == _CR and not (pos + 1 < n and buf[pos + 1] == _LF)):
                        line += 1
                    h = (h ^ np.uint64(ch)) * _FNV_PRIME
                    pos += 1
                end = pos
                pos += 1
                if pos < n and buf[pos] != _COMMA and buf[pos] != _LF and buf[pos] != _CR:
                    n_fields[row] = field
                    return _AFTER_QUOTE, row + 1, row_line, n_fields, hashes, starts, ends, escaped, field
            else:
                start = pos
                while pos < n:
                    ch = buf[pos]
                    if ch == _COMMA or ch == _LF or ch == _CR:
                        break
                    h = (h ^ np.uint64(ch)) * _FNV_PRIME
                    pos += 1
                end = pos
            if slot >= 0:
                hashes[slot, row] = h
                starts[slot, row] = start
                ends[slot, row] = end
                escaped[slot, row] = doubled
            field += 1
            if pos < n and buf[pos] == _COMMA:
                pos += 1
                continue
            if pos < n:  # end of line
                pos += 2 if buf[pos] == _CR and pos + 1 < n and buf[pos + 1] == _LF else 1
                line += 1
            break
        n_fields[row] = field
        row += 1
    return _OK, row, row_line, n_fields, hashes, starts, ends, escaped, -1


@numba.njit(cache=True)
def _same_value(buf, start_a, end_a, start_b, end_b):
    """Whether two field contents are equal once doubled quotes are undone."""
    i, j = start_a, start_b
    while i < end_a and j < end_b:
        if buf[i] != buf[j]:
            return False
        i += 2 if buf[i] == _QUOTE else 1
        j += 2 if buf[j] == _QUOTE else 1
    return i >= end_a and j >= end_b


@numba.njit(cache=True)
def _first_mismatch(buf, starts, ends, representative):
    """Index of the first field whose bytes differ from its representative's, or -1."""
    for i in range(starts.size):
        r = representative[i]
        if r != i and not _same_value(buf, starts[i], ends[i], starts[r], ends[r]):
            return i
    return -1


@numba.njit(cache=True)
def _factorize(hashes):
    """(codes, first row of each code) for uint64 hashes, codes in order of first appearance,
    by open addressing (the table doubles at half load): O(n), where np.unique would sort."""
    n = hashes.size
    size = 1024
    slot_code = np.full(size, -1, np.int64)
    codes = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    n_codes = 0
    for i in range(n):
        if 2 * n_codes >= size:
            size *= 2
            slot_code = np.full(size, -1, np.int64)
            for code in range(n_codes):
                j = (hashes[first[code]] * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20) & np.uint64(size - 1)
                while slot_code[j] >= 0:
                    j = (j + np.uint64(1)) & np.uint64(size - 1)
                slot_code[j] = code
        h = hashes[i]
        j = (h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20) & np.uint64(size - 1)
        while slot_code[j] >= 0 and hashes[first[slot_code[j]]] != h:
            j = (j + np.uint64(1)) & np.uint64(size - 1)
        if slot_code[j] < 0:
            slot_code[j] = n_codes
            first[n_codes] = i
            n_codes += 1
        codes[i] = slot_code[j]
    return codes, first[:n_codes]


def _header(buf: np.ndarray) -> tuple[list[str], int, int]:
    """(column names, offset of the line after the header, the header's line number): leading
    lines starting with '#' are comments."""
    newline = np.flatnonzero(buf == _LF)
    start, line = 0, 1
    while start < buf.size and buf[start] == ord("#"):
        following = newline[newline >= start]
        start = int(following[0]) + 1 if following.size else buf.size
        line += 1
    following = newline[newline >= start]
    end = int(following[0]) + 1 if following.size else buf.size
    raw = buf[start:end].tobytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise VoteFileError(1, None, f"the header is not valid UTF-8 ({error.reason})") from None
    names = next(csv.reader([text.rstrip("\r\n")]), [])
    return [name.strip() for name in names], end, line


class _Columns:
    """The tokenized rows, factorized column by column."""

    def __init__(self, buf, header, body_start, first_line=2):
        self.buf, self.header = buf, header
        self.wanted = [name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in header]
        slot_of_column = np.full(len(header), -1, np.int64)
        for slot, name in enumerate(self.wanted):
            slot_of_column[header.index(name)] = slot
        max_rows = int(np.count_nonzero(buf[body_start:] == _LF) + np.count_nonzero(buf[body_start:] == _CR)) + 1
        status, rows, *arrays, bad_field = _tokenize(buf, body_start, first_line, slot_of_column, len(self.wanted), max_rows)
        row_line, n_fields, hashes, starts, ends, escaped = (a[..., :rows] for a in arrays)
        if status != _OK:
            column = header[bad_field] if bad_field < len(header) else None
            problem = "a quoted field is never closed" if status == _UNTERMINATED else "text after a closing quote"
            raise VoteFileError(int(row_line[rows - 1]), column, problem)
        self.rows, self.row_line, self.n_fields = rows, row_line, n_fields
        self.hashes, self.starts, self.ends, self.escaped = hashes, starts, ends, escaped

    def line(self, row: int) -> int:
        return int(self.row_line[row])

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes int[rows], first row of each code): equal bytes <=> equal code."""
        slot = self.wanted.index(name)
        codes, first = _factorize(self.hashes[slot])
        if _first_mismatch(self.buf, self.starts[slot], self.ends[slot], first[codes]) >= 0:
            return self._codes_by_bytes(slot)  # a 64-bit hash collision: factorize the slow way
        return codes, first

    def _codes_by_bytes(self, slot):
        values = [self._raw(slot, row) for row in range(self.rows)]
        table: dict[bytes, int] = {}
        codes = np.array([table.setdefault(value, len(table)) for value in values], dtype=np.int64)
        first = np.zeros(len(table), dtype=np.int64)
        first[codes[::-1]] = np.arange(self.rows)[::-1]
        return codes, first

    def _raw(self, slot: int, row: int) -> bytes:
        raw = self.buf[self.starts[slot, row] : self.ends[slot, row]].tobytes()
        return raw.replace(b'""', b'"') if self.escaped[slot, row] else raw

    def labels(self, name: str) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(codes, labels, first row of each label): values decoded and stripped of surrounding
        whitespace; values equal after stripping share a code."""
        slot = self.wanted.index(name)
        codes, first = self.codes(name)
        texts = []
        for row in first:
            try:
                texts.append(self._raw(slot, row).decode("utf-8").strip())
            except UnicodeDecodeError as error:
                raise VoteFileError(self.line(row), name, f"not valid UTF-8 ({error.reason})") from None
        labels = list(dict.fromkeys(texts))
        position = {label: i for i, label in enumerate(labels)}
        relabel = np.array([position[text] for text in texts], dtype=np.int64)
        first_of_label = np.full(len(labels), self.rows, dtype=np.int64)
        np.minimum.at(first_of_label, relabel, first)
        return relabel[codes], labels, first_of_label


class _FirstProblem:
    """Keeps the earliest problem: by row, then by the column's place in the header."""

    def __init__(self, header):
        self.header, self.best = header, None

    def add(self, bad: np.ndarray, column: str, message) -> None:
        """Report the first row where `bad` holds; message may be a function of the row."""
        if bad.any():
            row = int(np.argmax(bad))
            self.add_at(row, self.header.index(column), column, message(row) if callable(message) else message)

    def add_at(self, row: int, place: int, column: str, message: str) -> None:
        if self.best is None or (row, place) < self.best[:2]:
            self.best = (row, place, column, message)

    def raise_first(self, columns: _Columns) -> None:
        if self.best is not None:
            row, _, column, message = self.best
            raise VoteFileError(columns.line(row), column, message)


def _row_ids(code_columns: list[np.ndarray]) -> np.ndarray:
    """One id per distinct combination of the code columns (each column's codes >= 0), in
    order of first appearance."""
    combined = np.zeros(code_columns[0].size, dtype=np.int64)
    capacity = 1
    for codes in code_columns:
        radix = int(codes.max()) + 1 if codes.size else 1
        capacity *= radix
        if capacity >= 2**62:  # mixed radix would overflow: compare rows instead
            _, ids = np.unique(np.stack(code_columns, axis=1), axis=0, return_inverse=True)
            return ids.reshape(-1)
        combined = combined * radix + codes
    return _factorize(combined.view(np.uint64))[0]


def _comparison_ids(key_codes: list[np.ndarray], criterion: np.ndarray, n_criteria: int) -> np.ndarray | None:
    """Comparison id per row: rows with equal keys, the k-th of each criterion together."""
    if n_criteria < 2:
        return None
    group = _row_ids(key_codes + [criterion])
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    group_start = np.searchsorted(sorted_group, sorted_group, side="left")
    occurrence = np.empty_like(group)
    occurrence[order] = np.arange(group.size) - group_start
    return _row_ids(key_codes + [occurrence])


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
    header, body_start, header_line = _header(buf)
    needed = REQUIRED_COLUMNS + (("prompt_id",) if require_prompt else ()) + (("rater_id",) if require_rater else ())
    needed += ("category",) if require_category else ()
    for name in needed:
        if name not in header:
            raise VoteFileError(header_line, name, f"missing column {name!r}; the header has: {', '.join(header)}")
    duplicated = sorted({name for name in header if header.count(name) > 1 and name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS})
    if duplicated:
        raise VoteFileError(header_line, duplicated[0], f"column {duplicated[0]!r} appears more than once")
    columns = _Columns(buf, header, body_start, header_line + 1)
    if columns.rows == 0:
        raise VoteFileError(header_line + 1, None, "the file has a header but no votes")
    problems = _FirstProblem(header)
    n_fields = columns.n_fields
    wrong_count = np.flatnonzero(n_fields != len(header))
    if wrong_count.size:  # reported before any other problem of the same row
        row, count = int(wrong_count[0]), int(n_fields[wrong_count[0]])
        if count < len(header):
            column, message = header[count], f"missing field: the row has {count} fields, the header {len(header)}"
        else:
            column, message = header[-1], f"extra field after it: the row has {count} fields, the header {len(header)}"
        problems.add_at(row, -1, column, message)

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

    winner_codes, winner_labels, _ = columns.labels("winner")
    outcome_of_label = np.array([WINNER_OUTCOMES.get(label, np.nan) for label in winner_labels])
    outcome = outcome_of_label[winner_codes]
    allowed = ", ".join(WINNER_OUTCOMES)
    problems.add(
        np.isnan(outcome),
        "winner",
        lambda row: f"{winner_labels[winner_codes[row]]!r} is not one of: {allowed}",
    )

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

    prompt = rater = None
    key_codes = [model_a, model_b]
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
    category = category_names = None
    if "category" in columns.wanted:
        codes, labels, _ = columns.labels("category")
        labels = [label or UNCATEGORIZED for label in labels]
        category_names = sorted(set(labels))
        category = np.array([category_names.index(label) for label in labels], dtype=np.int64)[codes]
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
        comparison=_comparison_ids(key_codes, criterion, len(criterion_names)) if criterion is not None else None,
        cluster=prompt,
        rater=rater,
        category=category,
        category_names=tuple(category_names or ()),
        _validated=True,
    )
    if keep is not None and not keep.all():
        votes = votes.subset(keep)
    return canonical(votes)


def read_vote_file(path: str | os.PathLike, **options) -> VoteArrays:
    """`parse_vote_bytes` of a file; an unreadable file is a `VoteFileError` at line 1."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise VoteFileError(1, None, f"cannot read {os.fspath(path)!r}: {error.strerror}") from None
    return parse_vote_bytes(data, **options)
