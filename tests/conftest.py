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


@pytest.fixture(autouse=True)
def _history_in_tmp(tmp_path, monkeypatch):
    """No test writes to the user's own practice history: takes the window keeps go to a store in the
    test's folder (tests that want another set MUSICDESK_DB themselves)."""
    monkeypatch.setenv("MUSICDESK_DB", str(tmp_path / "history-store" / "history.sqlite3"))


@pytest.fixture(scope="session")
def _score_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("score-cache")


@pytest.fixture(autouse=True)
def _score_cache_in_tmp(_score_cache_dir, monkeypatch):
    """Parsed scores are cached in a folder of the test session, not the user's cache folder."""
    monkeypatch.setenv("MUSICDESK_SCORE_CACHE", str(_score_cache_dir))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report says how much CPU the virtual machine's host took away while it ran
    (steal, /proc/stat): real-time audio tests fail for that reason alone on a starved machine."""
    from tests.vmic import CpuSteal

    if call.when == "setup":
        item._steal = CpuSteal(sample_s=None).__enter__()
    outcome = yield
    rep = outcome.get_result()
    steal = getattr(item, "_steal", None)
    if rep.failed and steal is not None and steal.measurable:   # no /proc/stat: nothing to say
        steal.__exit__(None, None, None)
        rep.sections.append(("CPU steal", f"the host took {100 * steal.share:.0f}% of this machine's CPU "
                                          "from the test's setup to here"))
