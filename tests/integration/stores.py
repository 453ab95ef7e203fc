"""A Store per test on SQLite (temp file) or on the real PostgreSQL (a schema of its own)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg

from service.store import Store
from service.store.store import make_engine

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def pg_url(schema: str, port: int = 5432) -> str:
    return (f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
            f"?options=-csearch_path%3D{schema}")


@contextmanager
def pg_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def make_store(kind: str, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """(migrated store, its database URL)."""
    with ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        else:
            url = pg_url(stack.enter_context(pg_schema()))
        store = Store(make_engine(url))
        store.migrate()
        try:
            yield store, url
        finally:
            store.close()
            store.engine.dispose()
