"""Practice history: every take, its analyses, grades and comments, in a store (SQLite by default,
PostgreSQL for a studio), and bundles to move them between machines without a server.

    store.py     the Store: one unit of work per method, over the models in models.py
    db.py        where the store lives, its engine and SQLite settings, the Alembic migrations
    files.py     the content-addressed folder of audio and scores (sha256)
    records.py   what of an analysis is kept (plain dicts)
    progress.py  progress over takes and comparing two takes (pure functions)
    bundle.py    export and import of bundle files (zip + manifest of sha256)
    report.py    a student's progress on a piece as CSV and PDF
    cli.py       `musicdesk history ...`
"""
__all__ = ["HistoryError"]


def __getattr__(name: str):
    """HistoryError on first use: importing the package (for its CLI's argument parser, on every
    `musicdesk` command) must not import SQLAlchemy (0.25 s)."""
    if name == "HistoryError":
        from musicdesk.history.db import HistoryError

        return HistoryError
    raise AttributeError(f"module 'musicdesk.history' has no attribute {name!r}")
