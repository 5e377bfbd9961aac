"""The health check (/healthz/): it answers when the database does."""

from __future__ import annotations


def test_healthz_answers_when_the_database_does(client, db):
    assert client.get("/healthz/").json() == {"database": "ok"}
