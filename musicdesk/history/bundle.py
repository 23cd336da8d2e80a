"""Bundles: takes, submissions, feedback, assignments and backups as one zip file, to move between a
student's and a teacher's machines without a server.

    manifest.json        format, format version, the schema revision, app version, kind, and for every
                         other member its sha256 and size
    data.json            the rows (people, pieces, assignments, takes, analyses with their notes,
                         grades, comments, practice days), as JSON
    files/<sha256>.<ext> the audio (FLAC) and the scores, named by content

Import checks everything before it touches the store: member names (no absolute paths, no `..`, no
links), sizes and compression ratios (zip bombs), every checksum, and the schema (a bundle from a newer
musicdesk is refused). It then writes the files, and adds the rows in one transaction, each only when
its key is not there yet: importing the same bundle twice changes nothing.
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import stat
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from musicdesk.history import models as m
from musicdesk.history.db import HistoryError, head_revision, known_revisions

FORMAT = "musicdesk-bundle"
FORMAT_VERSION = 1
KINDS = ("takes", "submission", "feedback", "assignment", "backup")
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 1 << 30           # 1 GiB: an hour of 24-bit stereo FLAC is about 0.7 GiB
MAX_TOTAL_BYTES = 16 << 30
MAX_RATIO = 200                      # uncompressed / compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1 << 20
EXTENSIONS = {"audio/flac": ".flac", "audio/midi": ".mid", "text/vnd.abc": ".abc",
              "application/vnd.recordare.musicxml": ".mxl", "application/vnd.recordare.musicxml+xml": ".musicxml",
              "application/xml": ".xml", "text/x-kern": ".krn"}
# data.json's sections: the model, and how rows that are already there are treated
SECTIONS = (("people", m.Person), ("blobs", m.Blob), ("pieces", m.Piece), ("assignments", m.Assignment),
            ("takes", m.Take), ("analyses", m.Analysis), ("notes", m.NoteResult), ("grades", m.Grade),
            ("comments", m.Comment), ("practice", m.PracticeDay))


class BundleError(HistoryError):
    """The bundle is refused; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class ImportResult:
    kind: str
    added: dict          # section -> rows added (all 0 when the bundle was already imported)
    files_added: int

    @property
    def anything_new(self) -> bool:
        return any(self.added.values()) or self.files_added > 0


# ---------------------------------------------------------------------- rows <-> JSON
def _row_json(obj) -> dict:
    out = {}
    for c in obj.__table__.columns:
        v = getattr(obj, c.key)
        if isinstance(v, uuid.UUID):
            v = str(v)
        elif isinstance(v, dt.datetime):
            v = v.astimezone(dt.timezone.utc).isoformat()
        out[c.key] = v
    return out


def _row_values(model, d: dict) -> dict:
    """A row of data.json back to column values, checked against the model's columns."""
    from sqlalchemy import Uuid

    from musicdesk.history.models import UTCDateTime

    if not isinstance(d, dict):
        raise ValueError("a row is not an object")
    out = {}
    cols = {c.key: c for c in model.__table__.columns}
    unknown = set(d) - set(cols)
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r} in {model.__tablename__}")
    for key, c in cols.items():
        v = d.get(key)
        if v is None:
            if c.nullable:
                out[key] = None
            elif c.default is None:
                raise ValueError(f"{model.__tablename__}.{key} is missing")
            continue
        if isinstance(c.type, Uuid):
            v = uuid.UUID(str(v))
        elif isinstance(c.type, UTCDateTime):
            v = dt.datetime.fromisoformat(str(v))
            if v.tzinfo is None:
                raise ValueError(f"{model.__tablename__}.{key} has no time zone")
        elif c.type.python_type in (int, float):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{model.__tablename__}.{key} is not a number")
            v = c.type.python_type(v)
        elif c.type.python_type is str:
            if not isinstance(v, str):
                raise ValueError(f"{model.__tablename__}.{key} is not text")
            length = getattr(c.type, "length", None)
            if length and len(v) > length:
                raise ValueError(f"{model.__tablename__}.{key} is too long")
        out[key] = v
    return out


# ---------------------------------------------------------------------- export
def export_bundle(store, dest: str | os.PathLike, take_ids: Sequence[uuid.UUID] = (), kind: str = "takes",
                  assignment_ids: Sequence[uuid.UUID] = (), with_audio: bool = True, with_trash: bool = False) -> Path:
    """Write a bundle of `take_ids` (with their audio, scores, analyses, grades, comments, people and
    practice days), or for kind "feedback" the grades and comments on them only, or for "assignment"
    the assignments `assignment_ids` with their pieces. Written to a temporary name, then renamed."""
    if kind not in KINDS:
        raise BundleError(f"A bundle is one of {', '.join(KINDS)}, not {kind!r}.")
    if kind not in ("feedback", "assignment") and not with_audio:
        # the blob rows of audio not included would name files the receiver cannot have
        raise BundleError("A bundle of takes carries their audio.")
    from musicdesk import __version__

    data: dict[str, list] = {name: [] for name, _ in SECTIONS}
    files: dict[str, str] = {}           # sha -> member name
    with store.read() as s:
        takes = [s.get(m.Take, t) for t in take_ids]
        missing = [str(t) for t, row in zip(take_ids, takes) if row is None]
        if missing:
            raise BundleError(f"No take {missing[0]} in the history store.")
        takes = [t for t in takes if with_trash or t.trashed_at is None]
        people: set[uuid.UUID] = set()
        pieces: set[uuid.UUID] = set()
        assignments: set[uuid.UUID] = set(assignment_ids)
        tids = [t.id for t in takes]
        grades = list(s.scalars(select(m.Grade).where(m.Grade.take_id.in_(tids)).order_by(m.Grade.created_at)))
        comments = list(s.scalars(select(m.Comment).where(m.Comment.take_id.in_(tids))
                                  .order_by(m.Comment.created_at)))
        if kind == "feedback":
            grades = _released_only(grades)
            data["grades"] = [_row_json(g) for g in grades]
            data["comments"] = [_row_json(c) for c in comments]
            people |= {g.grader_id for g in grades} | {c.author_id for c in comments}
            data["feedback_for"] = [str(t) for t in tids]
        elif kind != "assignment":
            for t in takes:
                people.add(t.student_id)
                pieces.add(t.piece_id)
                if t.assignment_id:
                    assignments.add(t.assignment_id)
                data["takes"].append(_row_json(t))
                for a in s.scalars(select(m.Analysis).where(m.Analysis.take_id == t.id).order_by(m.Analysis.created_at)):
                    data["analyses"].append(_row_json(a))
                    data["notes"] += [_row_json(n) for n in s.scalars(
                        select(m.NoteResult).where(m.NoteResult.analysis_id == a.id).order_by(m.NoteResult.index))]
                if with_audio:
                    files[t.audio_sha256] = ""
            data["grades"] = [_row_json(g) for g in grades]
            data["comments"] = [_row_json(c) for c in comments]
            people |= {g.grader_id for g in grades} | {c.author_id for c in comments}
            for t in takes:
                for p in s.scalars(select(m.PracticeDay).where(m.PracticeDay.student_id == t.student_id,
                                                               m.PracticeDay.piece_id == t.piece_id)):
                    if _row_json(p) not in data["practice"]:
                        data["practice"].append(_row_json(p))
        for aid in sorted(assignments, key=str):
            a = s.get(m.Assignment, aid)
            if a is None:
                raise BundleError(f"No assignment {aid} in the history store.")
            data["assignments"].append(_row_json(a))
            pieces.add(a.piece_id)
            people |= {p for p in (a.teacher_id, a.student_id) if p}
        for pid in sorted(pieces, key=str):
            p = s.get(m.Piece, pid)
            data["pieces"].append(_row_json(p))
            files[p.score_sha256] = ""
        for sha in sorted(files):
            b = s.get(m.Blob, sha)
            data["blobs"].append(_row_json(b))
            files[sha] = f"files/{sha}{EXTENSIONS.get(b.media_type, '')}"
        data["people"] = [_row_json(s.get(m.Person, p)) for p in sorted(people, key=str)]
    body = json.dumps(data, separators=(",", ":")).encode()
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "schema": head_revision(),
                "app_version": __version__, "kind": kind, "created_at": m.utcnow().isoformat(), "files": {}}
    manifest["files"]["data.json"] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    for sha, name in files.items():
        manifest["files"][name] = {"sha256": sha, "size": store.files.path(sha).stat().st_size
                                   if store.files.has(sha) else 0}
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as z:
            z.writestr("manifest.json", json.dumps(manifest, indent=1), compress_type=zipfile.ZIP_DEFLATED)
            z.writestr("data.json", body, compress_type=zipfile.ZIP_DEFLATED)
            for sha, name in files.items():
                z.writestr(name, store.files.read(sha), compress_type=zipfile.ZIP_STORED)
        os.replace(tmp, dest)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        what = "The disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else \
            f"Cannot write there ({exc.strerror or exc})"
        raise BundleError(f"{what}: the bundle {dest} was not written. Free some space or choose another "
                          "folder; the history store is unchanged.") from exc
    return dest


def _released_only(grades: list) -> list:
    """The released grades of `grades` (oldest first), each superseding the released grade before it
    (drafts stay on the teacher's machine: a feedback bundle never carries them). Detached copies, so
    the store's rows are not changed."""
    by_id = {g.id: g for g in grades}
    out = []
    for g in grades:
        if g.status != "released":
            continue
        prev = by_id.get(g.supersedes_id)
        while prev is not None and prev.status != "released":
            prev = by_id.get(prev.supersedes_id)
        out.append(m.Grade(**{c.key: getattr(g, c.key) for c in g.__table__.columns} |
                           {"supersedes_id": prev.id if prev is not None else None}))
    return out


# ---------------------------------------------------------------------- reading, with every check
def _check_name(name: str) -> None:
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
        raise BundleError(f"The bundle is refused: its member {name!r} has an absolute path.")
    if any(part == ".." for part in name.split("/")):
        raise BundleError(f"The bundle is refused: its member {name!r} points outside the bundle (..).")


def read_bundle(path: str | os.PathLike) -> tuple[dict, dict, dict[str, bytes]]:
    """(manifest, data, files by sha256) of a bundle, after every check; BundleError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"Bundle not found: {path}")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path.name} is not a musicdesk bundle (not a zip file: {exc}).") from exc
    with z:
        infos = z.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BundleError(f"The bundle is refused: it has {len(infos)} members (at most {MAX_MEMBERS}).")
        seen: set[str] = set()
        total = 0
        for info in infos:
            _check_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise BundleError(f"The bundle is refused: its member {info.filename!r} is a symbolic link.")
            if info.filename in seen:
                raise BundleError(f"The bundle is refused: the member {info.filename!r} appears twice.")
            seen.add(info.filename)
            if info.file_size > MAX_MEMBER_BYTES:
                raise BundleError(f"The bundle is refused: its member {info.filename!r} is "
                                  f"{_size(info.file_size)} (at most {_size(MAX_MEMBER_BYTES)}).")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size):
                raise BundleError(f"The bundle is refused: its member {info.filename!r} expands "
                                  f"{info.file_size // max(1, info.compress_size)} times (a zip bomb?).")
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise BundleError(f"The bundle is refused: it expands to {_size(total)} (at most {_size(MAX_TOTAL_BYTES)}).")
        if "manifest.json" not in seen:
            raise BundleError(f"{path.name} is not a musicdesk bundle (it has no manifest.json).")
        manifest = _json(_read(z, z.getinfo("manifest.json")), "manifest.json")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{path.name} is not a musicdesk bundle (its manifest is not one).")
        if not isinstance(manifest.get("format_version"), int) or manifest["format_version"] > FORMAT_VERSION:
            raise BundleError(f"The bundle was made by a newer musicdesk (bundle format "
                              f"{manifest.get('format_version')}); update musicdesk to import it.")
        schema = manifest.get("schema")
        if schema not in known_revisions():
            raise BundleError(f"The bundle was made by a newer musicdesk (schema {schema}; this version knows up to "
                              f"{head_revision()}); update musicdesk to import it.")
        if manifest.get("kind") not in KINDS:
            raise BundleError(f"The bundle's kind {manifest.get('kind')!r} is not one musicdesk knows.")
        listed = manifest.get("files")
        if not isinstance(listed, dict) or "data.json" not in listed:
            raise BundleError("The bundle is damaged: its manifest lists no data.")
        extra = seen - set(listed) - {"manifest.json"}
        if extra:
            raise BundleError(f"The bundle is refused: its member {sorted(extra)[0]!r} is not in its manifest.")
        absent = set(listed) - seen
        if absent:
            raise BundleError(f"The bundle is damaged: {sorted(absent)[0]!r} is in its manifest but not in the bundle.")
        contents: dict[str, bytes] = {}
        for name, meta in listed.items():
            _check_name(name)
            if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
                raise BundleError(f"The bundle is damaged: its manifest has no checksum for {name!r}.")
            body = _read(z, z.getinfo(name))
            if hashlib.sha256(body).hexdigest() != meta["sha256"]:
                raise BundleError(f"The bundle is damaged: the checksum of {name!r} does not match its manifest "
                                  "(the file was changed or cut short). Ask for the bundle again.")
            contents[name] = body
    data = _json(contents.pop("data.json"), "data.json")
    if not isinstance(data, dict):
        raise BundleError("The bundle is damaged: its data is not an object.")
    files = {listed[name]["sha256"]: body for name, body in contents.items()}
    return manifest, data, files


def _size(n: int) -> str:
    for unit, k in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << k:
            return f"{n / (1 << k):.1f} {unit}"
    return f"{n} bytes"


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than its header declares (a header can lie about a zip bomb)."""
    limit = min(info.file_size, MAX_MEMBER_BYTES)
    try:
        with z.open(info) as fh:
            body = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error) as exc:
        raise BundleError(f"The bundle is damaged: cannot read {info.filename!r} ({exc}).") from exc
    except RuntimeError as exc:   # encrypted members
        raise BundleError(f"The bundle is refused: {info.filename!r} is encrypted ({exc}).") from exc
    if len(body) > limit:
        raise BundleError(f"The bundle is refused: {info.filename!r} holds more than its header says (a zip bomb?).")
    return body


def _json(body: bytes, name: str):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"The bundle is damaged: {name} is not valid JSON ({exc}).") from exc


# ---------------------------------------------------------------------- import
def import_bundle(store, path: str | os.PathLike) -> ImportResult:
    """Check the bundle, store its files, and add its rows in one transaction (only rows whose key is
    new; a day's practice keeps the larger figure). Importing it again changes nothing."""
    manifest, data, files = read_bundle(path)
    rows: dict[str, list[dict]] = {}
    try:
        for name, model in SECTIONS:
            section = data.get(name, [])
            if not isinstance(section, list):
                raise ValueError(f"{name} is not a list")
            rows[name] = [_row_values(model, d) for d in section]
    except (ValueError, TypeError) as exc:
        raise BundleError(f"The bundle is damaged: {exc}.") from exc
    need = {b["sha256"] for b in rows["blobs"]}
    missing = need - set(files) - {sha for sha in need if store.files.has(sha)}
    if missing:
        raise BundleError(f"The bundle is damaged: it names the file {sorted(missing)[0][:12]}… but does not carry it.")
    for b in rows["blobs"]:
        if b["sha256"] in files and len(files[b["sha256"]]) != b["size_bytes"]:
            raise BundleError("The bundle is damaged: a file's size does not match its row.")
    if store.readonly:
        store._write(lambda s: None)          # raises the store's own message
    new_files = [sha for sha in files if not store.files.has(sha)]
    written = []
    try:
        for sha in new_files:
            store.files.put_bytes(files[sha], sha)
            written.append(sha)
        added = store._write(lambda s: _add_rows(s, rows, data.get("feedback_for")))
    except BaseException:
        for sha in written:                   # the store stays as it was: files this import added go too
            store.files.remove(sha)
        raise
    return ImportResult(manifest["kind"], added, len(written))


def _add_rows(s: Session, rows: dict[str, list[dict]], feedback_for) -> dict:
    if feedback_for is not None:
        ids = [uuid.UUID(str(t)) for t in feedback_for] if isinstance(feedback_for, list) else []
        have = set(s.scalars(select(m.Take.id).where(m.Take.id.in_(ids)))) if ids else set()
        needed = {r["take_id"] for r in rows["grades"] + rows["comments"]}
        if needed - have:
            raise BundleError(f"This feedback is on {len(needed - have)} take(s) that are not in this history store "
                              "(import the takes first, or restore them from the trash). Nothing was imported.")
    added = {}
    new_analyses: set = set()
    for name, model in SECTIONS:
        if model is m.NoteResult:       # a new analysis's notes, in one statement (an old one has its own)
            fresh = [r for r in rows[name] if r["analysis_id"] in new_analyses]
            if fresh:
                s.execute(m.NoteResult.__table__.insert(), fresh)
            added[name] = len(fresh)
            continue
        pk = [c.key for c in model.__table__.primary_key.columns]
        n = 0
        for r in rows[name]:
            key = tuple(r[k] for k in pk)
            existing = s.get(model, key if len(key) > 1 else key[0])
            if existing is None:
                s.add(model(**r))
                n += 1
                if model is m.Analysis:
                    new_analyses.add(r["id"])
            elif model is m.PracticeDay and r.get("seconds", 0) > existing.seconds:
                existing.seconds = r["seconds"]
                n += 1
        s.flush()
        added[name] = n
    return added
