"""A vote CSV's bytes as columns: a numba kernel splits the bytes into fields (RFC 4180 quoting,
LF or CRLF) and hashes each field; the hashes factorize every column in one pass, and a second
pass checks that equal hashes are equal bytes, so the result is exact. Only the distinct values
are decoded to Python strings. `vote_file` reads the votes from these columns.
"""

from __future__ import annotations

import csv

from . import numba_cache  # noqa: F401  (before numba: where kernels are cached)
import numba
import numpy as np

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


def file_header(buf: np.ndarray) -> tuple[list[str], int, int]:
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


class Columns:
    """The tokenized rows, factorized column by column."""

    def __init__(self, buf, header, body_start, first_line=2, *, known=()):
        """The columns of ``known`` that ``header`` has, in the order of ``known``."""
        self.buf, self.header = buf, header
        self.wanted = [name for name in known if name in header]
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


class FirstProblem:
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

    def raise_first(self, columns: Columns) -> None:
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


def comparison_ids(key_codes: list[np.ndarray], criterion: np.ndarray, n_criteria: int) -> np.ndarray | None:
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
