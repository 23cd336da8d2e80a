"""Bundles in the window: import (File > Import bundle…, or drop the file on the window or on a panel)
and export, in workers, through musicdesk.history.bundle. A bundle that is refused (damaged, hostile,
from a newer musicdesk) gets a dialog saying why and what to do; the store is unchanged."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtWidgets import QFileDialog

from musicdesk.app import workers
from musicdesk.app.history_keeper import history_errors, session_store
from musicdesk.app.session import Session

BUNDLE_EXT = {".zip"}
BUNDLE_FILTER = "musicdesk bundles (*.zip);;All files (*)"
KIND_NAMES = {"takes": "takes", "submission": "a submission", "feedback": "feedback", "assignment": "an assignment",
              "backup": "a backup"}


def is_bundle(path: str) -> bool:
    return Path(path).suffix.lower() in BUNDLE_EXT


def describe(path: str, result) -> str:
    """ "week3.zip: a submission: 2 takes, 2 analyses" (what an import added)."""
    added = ", ".join(f"{n} {k}" for k, n in result.added.items() if n and k not in ("blobs", "notes"))
    return f"{os.path.basename(path)}: {KIND_NAMES.get(result.kind, result.kind)}: " + \
        (added or "nothing new (already imported)")


def import_bundles(s: Session, paths: Sequence[str], done: Callable[[list], None] | None = None) -> None:
    """Import the bundles at `paths` into the window's history store, one after another in a worker;
    `done([(path, ImportResult)])` after. A refused bundle stops there with a dialog (those before it
    stay imported; it adds nothing)."""
    from musicdesk.history.bundle import import_bundle

    store = session_store(s)
    paths = list(paths)

    def work():
        return [(p, import_bundle(store, p)) for p in paths]

    def finished(results) -> None:
        s.status("; ".join(describe(p, r) for p, r in results), 15000)
        if done is not None:
            done(results)

    s.status(f"Importing {', '.join(os.path.basename(p) for p in paths)}…")
    s.run(workers.Task(work, user_errors=history_errors()), finished, "Cannot import the bundle")


def ask_import(s: Session, done=None) -> None:
    paths, _ = QFileDialog.getOpenFileNames(s.window, "Import bundles", "", BUNDLE_FILTER)
    if paths:
        import_bundles(s, paths, done)


def ask_export_path(s: Session, title: str, name: str) -> str:
    """A path to write a bundle to, asked for ('' when cancelled); .zip added when missing."""
    path, _ = QFileDialog.getSaveFileName(s.window, title, name, BUNDLE_FILTER)
    if path and not is_bundle(path):
        path += ".zip"
    return path


def export_bundle(s: Session, dest: str, take_ids: Sequence[str] = (), kind: str = "takes",
                  assignment_ids: Sequence[str] = (), done: Callable[[Path], None] | None = None,
                  before: Callable[[object], None] | None = None) -> None:
    """Write a bundle in a worker (`before(store)` runs there first, e.g. marking takes as submitted);
    `done(path)` after; a dialog when it cannot be written (a full disk: nothing is lost)."""
    import uuid

    from musicdesk.history import bundle

    store = session_store(s)

    def work():
        if before is not None:
            before(store)
        return bundle.export_bundle(store, dest, [uuid.UUID(t) for t in take_ids], kind=kind,
                                    assignment_ids=[uuid.UUID(a) for a in assignment_ids])

    def finished(path) -> None:
        s.status(f"{KIND_NAMES.get(kind, kind).capitalize()} written to {path}", 15000)
        if done is not None:
            done(path)

    s.run(workers.Task(work, user_errors=(*history_errors(), ValueError)), finished, "Cannot write the bundle")
