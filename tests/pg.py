"""A throwaway PostgreSQL server for the history store's tests: Debian's `postgresql` package, a cluster
in a temporary folder, listening on a Unix socket only (no TCP port), stopped by the fixture.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster's folder belongs to the
`postgres` user that the package creates, and initdb and pg_ctl run as that user (runuser). Nothing
here skips: without PostgreSQL the tests fail and say what to install.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid


def pg_bindir() -> str:
    """Debian puts the server programs under /usr/lib/postgresql/<version>/bin, off PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return os.path.dirname(os.path.realpath(pg_ctl))
    raise RuntimeError("PostgreSQL's server is not installed: install Debian's `postgresql` package "
                       "(packaging/setup.sh does).")


class PostgresServer:
    def __init__(self):
        self.bindir = pg_bindir()
        self.root = tempfile.mkdtemp(prefix="musicdesk-pg-")
        self.data = os.path.join(self.root, "data")
        self.socket = self.root
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.user = "musicdesk"
        self._run("initdb", "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-k {self.socket} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.root, "log"), "-w", "start")

    def _run(self, prog: str, *args: str) -> None:
        r = subprocess.run([*self.as_user, os.path.join(self.bindir, prog), *args], capture_output=True, text=True)
        if r.returncode != 0:
            log = ""
            try:
                log = open(os.path.join(self.root, "log")).read()[-2000:]
            except OSError:
                pass
            raise RuntimeError(f"{prog} failed ({r.returncode}): {r.stderr.strip()} {log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket}"

    def new_database(self) -> str:
        """A fresh, empty database on the server; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host=self.socket, user=self.user, dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
