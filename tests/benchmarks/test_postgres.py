"""The benchmarks make their own PostgreSQL database, or say how to when they cannot."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.postgres import ensure_database  # noqa: E402

SERVER = "postgres://postgres@127.0.0.1:5432"


def test_a_missing_database_is_created_and_an_existing_one_kept():
    name = f"evalsite_bench_probe_{secrets.token_hex(4)}"
    try:
        ensure_database(f"{SERVER}/{name}")
        ensure_database(f"{SERVER}/{name}")  # exists now: nothing to do, no error
        with psycopg.connect(f"{SERVER}/{name}") as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == name
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_an_unreachable_server_is_a_message_saying_what_to_do():
    with pytest.raises(SystemExit) as stopped:
        ensure_database("postgres://postgres@127.0.0.1:1/evalsite_bench")
    message = str(stopped.value)
    assert "evalsite_bench" in message and "createdb -h 127.0.0.1 -U postgres evalsite_bench" in message
    assert "DATABASE_URL" in message
