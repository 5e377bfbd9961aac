"""The benchmarks' PostgreSQL database: created on the server when it does not exist yet."""

from __future__ import annotations

from urllib.parse import urlparse


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` (a ``postgres://`` URL) if the server lacks it; say
    how to fix it when the server cannot be reached or refuses."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        raise SystemExit(
            f"Could not reach or create the PostgreSQL database {name!r} at {parsed.hostname}:{parsed.port or 5432} "
            f"({error.__class__.__name__}: {str(error).strip()}). Start PostgreSQL, or create the database yourself "
            f"(`createdb -h {parsed.hostname} -U {parsed.username or 'postgres'} {name}`), or point DATABASE_URL at "
            f"one that exists."
        ) from None
