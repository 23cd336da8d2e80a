"""The content-addressed folder: every audio take and score stored once, named by its sha256.

`root/ab/abcdef...` (the first two hex digits as a folder). A file is written to a temporary name in
the same folder, synced, then renamed into place, so a file under its final name is always complete,
whatever kills the process. Files are written before the rows that name them are committed: a crash
between the two leaves an unreferenced file, never a row without its file.
"""
from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

from musicdesk.history.db import HistoryError

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def disk_message(exc: OSError, what: str) -> str:
    """A user's message for an OSError while writing `what`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (f"The disk is full: cannot write {what}. Nothing was changed in the history store; free some "
                "space and try again.")
    return f"Cannot write {what}: {exc.strerror or exc}. Nothing was changed in the history store."


class FileStore:
    """Files by sha256 under `root`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise HistoryError(f"Not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_bytes(self, data: bytes, sha256: str | None = None) -> str:
        """Store `data`; returns its sha256 (a file already there is kept as it is)."""
        digest = sha256_bytes(data)
        if sha256 is not None and sha256 != digest:
            raise HistoryError("A file's checksum does not match its content; nothing was stored.")
        dest = self.path(digest)
        if dest.is_file():
            return digest
        write_atomic(dest, data, "a file into the history store")
        return digest

    def put_file(self, path: str | os.PathLike) -> str:
        with open(path, "rb") as fh:
            return self.put_bytes(fh.read())

    def read(self, sha256: str) -> bytes:
        p = self.path(sha256)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise HistoryError(f"The history store's file {sha256[:12]}… is missing ({exc.strerror or exc}); "
                               "restore the store's files folder from a backup.") from exc
        if sha256_bytes(data) != sha256:
            raise HistoryError(f"The history store's file {sha256[:12]}… is damaged (its checksum does not "
                               "match); restore it from a backup or a bundle.")
        return data

    def remove(self, sha256: str) -> None:
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            pass


def write_atomic(dest: Path, data: bytes, what: str) -> None:
    """Write `data` to `dest` under a temporary name, synced, then renamed: never a half-written file.
    A disk error becomes a HistoryError saying what to do (`what`: what was being written)."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise HistoryError(disk_message(exc, what)) from exc


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
