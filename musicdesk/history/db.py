"""Where the history store lives, and opening it: the engine, SQLite's settings, the migrations.

The store is an SQLite file in the user data folder unless a URL says otherwise (`--db`, the
MUSICDESK_DB variable, or the setting): `postgresql://user@host/db` for a studio's shared store.

SQLite runs in WAL mode with foreign keys on, a 30 s busy timeout and full syncs, for every connection.
Units of work that write begin with BEGIN IMMEDIATE, so two processes writing at once queue for the
lock instead of one failing with "database is locked" when it upgrades a read to a write.
An SQLite file on a network share (NFS, SMB/CIFS, sshfs...) is refused: WAL needs shared memory that
such file systems cannot provide, and their locking is unreliable, so a store there can be corrupted
(https://www.sqlite.org/wal.html, https://www.sqlite.org/useovernet.html). A studio uses PostgreSQL.
"""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

MIGRATIONS = Path(__file__).with_name("migrations")
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs",
                       "fuse.glusterfs", "davfs", "fuse.rclone", "lustre"}


class HistoryError(Exception):
    """The store cannot do what was asked; the message says what to do. Nothing was changed."""


def default_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("musicdesk", appauthor=False)) / "history" / "history.sqlite3"


def resolve_url(url: str | os.PathLike | None = None) -> str:
    """A database URL from an argument (a URL or an SQLite file's path), MUSICDESK_DB, or the default file."""
    url = url or os.environ.get("MUSICDESK_DB") or str(default_db_path())
    url = str(url)
    if "://" not in url:
        url = "sqlite:///" + str(Path(url).expanduser().absolute())
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def filesystem_type(path: Path) -> str:
    """The type of the file system holding `path` (Linux: /proc/mounts), or '' when unknown."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    p = str(path.resolve())
    best, kind = "", ""
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        mnt = fields[1].replace("\\040", " ")
        if (p == mnt or p.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
            best, kind = mnt, fields[2]
    return kind


def make_engine(url: str) -> Engine:
    """An engine for `url` with the store's connection settings (see the module docstring)."""
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"Cannot create the folder for the history store {path.parent}: "
                               f"{exc.strerror or exc}") from exc
        fs = filesystem_type(path.parent)
        if fs in NETWORK_FILESYSTEMS:
            raise HistoryError(f"The history store {path} is on a network share ({fs}). SQLite cannot be "
                               "shared safely over a network; keep the file on a local disk, or give a "
                               "studio's shared store as a PostgreSQL URL (--db postgresql://...).")
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 30.0})

        @event.listens_for(engine, "connect")
        def _sqlite_settings(dbapi_conn, _record):
            dbapi_conn.isolation_level = None      # BEGIN is emitted below, so that writers can say IMMEDIATE
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:    # e.g. an unknown driver in the URL
        raise HistoryError(f"Cannot use the history store {make_url(url).render_as_string()}: {exc}") from exc


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, to: str = "head") -> str | None:
    """Bring the store's schema up to `to` (one transaction; a store from a newer musicdesk is left as it
    is). Returns the revision the store is at afterwards."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.execution_options(write=True).connect() as conn:
        with conn.begin():
            current = MigrationContext.configure(conn).get_current_revision()
            if current is not None and current not in known_revisions():
                return current
            if current != (head_revision() if to == "head" else to):
                command.upgrade(alembic_config(conn), to)
        return MigrationContext.configure(conn).get_current_revision()
