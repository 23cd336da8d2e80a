"""Fixtures shared by the history store's tests: a real PostgreSQL server (tests/pg.py) for the session,
and `store_url`, an empty store on each backend in turn (SQLite file, PostgreSQL database)."""
import pytest


@pytest.fixture(scope="session")
def postgres():
    from tests.pg import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "store" / "history.sqlite3")
    return request.getfixturevalue("postgres").new_database()
