"""The history store: every take, its analyses, grades and comments, over SQLAlchemy (SQLite or PostgreSQL).

One `Store` per process; each method is one unit of work (one session, one transaction). Writes go
through `_write`, which begins with BEGIN IMMEDIATE on SQLite and retries when another process holds
the lock past the busy timeout, so "database is locked" never reaches the user. Grades and comments are
appended: editing one adds a row that supersedes it.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from musicdesk.history import models as m
from musicdesk.history.db import (HistoryError, current_revision, head_revision, is_sqlite, known_revisions,
                                  make_engine, resolve_url, sqlite_path, upgrade)
from musicdesk.history.files import FileStore, sha256_bytes, sha256_file, write_atomic
from musicdesk.history.records import flac_audio, note_rows, report_without_notes, score_media_type

T = TypeVar("T")
ROLES = ("student", "teacher")
GRADE_STATES = ("draft", "released")
LOCK_RETRIES = 4


@dataclass(frozen=True)
class TakeRow:
    """A take as the lists show it: its current analysis's ratings, its current grades."""

    id: uuid.UUID
    student: str
    piece: str
    part: str
    recorded_at: dt.datetime
    duration_s: float
    n_notes: int | None
    n_correct: int | None
    ratings: dict            # rule-based: note_accuracy, rhythmic_accuracy, intonation (0..1)
    network: dict            # the network's, when it rated the take
    grades: dict             # criterion -> (value, scale_max, status), the current ones
    trashed: bool
    assignment_id: uuid.UUID | None = None   # the assignment it was played for
    student_id: uuid.UUID | None = None
    piece_id: uuid.UUID | None = None
    released: dict = field(default_factory=dict)   # criterion -> (value, scale_max, "released"): the newest
    #                                                released grade, what the student sees while a draft is newer
    n_comments: int = 0                              # current comments on it


def _locked(exc: Exception) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "could not serialize" in text


class Store:
    """The history store at `url` (see db.resolve_url), with its files under `files_dir` (default: a
    `files` folder beside an SQLite file, or MUSICDESK_FILES, or the user data folder)."""

    def __init__(self, url: str | os.PathLike | None = None, files_dir: str | os.PathLike | None = None,
                 migrate: bool = True):
        self.url = resolve_url(url)
        self.engine = make_engine(self.url)
        path = sqlite_path(self.url)
        if files_dir is None:
            if os.environ.get("MUSICDESK_FILES"):
                files_dir = os.environ["MUSICDESK_FILES"]
            elif path is not None:
                files_dir = path.parent / "files"
            else:
                from musicdesk.history.db import default_db_path

                files_dir = default_db_path().parent / "files"
        self.files = FileStore(files_dir)
        try:
            self.revision = upgrade(self.engine) if migrate else current_revision(self.engine)
        except DBAPIError as exc:
            raise HistoryError(self._db_message(exc)) from exc
        self.readonly = self.revision is not None and self.revision not in known_revisions()

    def _db_message(self, exc: Exception) -> str:
        where = sqlite_path(self.url) or self.engine.url.render_as_string(hide_password=True)
        text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        if "disk" in text.lower() and ("full" in text.lower() or "space" in text.lower()):
            return (f"The disk holding the history store {where} is full: nothing was changed. Free some space "
                    "and try again.")
        if "not a database" in text.lower() or "malformed" in text.lower():
            return (f"{where} is not a readable musicdesk history store ({text}). Restore it from a backup "
                    "(musicdesk history backup), or move it aside to start a new one.")
        return f"Cannot use the history store {where}: {text}"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ units of work
    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in one write transaction, retried while another writer holds the lock."""
        if self.readonly:
            raise HistoryError(f"This history store was made by a newer musicdesk (schema {self.revision}; this "
                               f"version knows up to {head_revision()}). It can be read, not written: update "
                               "musicdesk to change it.")
        delay = 0.05
        for attempt in range(LOCK_RETRIES):
            try:
                with Session(self.engine.execution_options(write=True), expire_on_commit=False) as s:
                    with s.begin():
                        return work(s)
            except OperationalError as exc:
                if _locked(exc) and attempt < LOCK_RETRIES - 1:
                    time.sleep(delay)
                    delay *= 4
                    continue
                if _locked(exc):
                    raise HistoryError("The history store is busy: another musicdesk kept it locked for over "
                                       "a minute. Nothing was changed; try again.") from exc
                raise HistoryError(self._db_message(exc)) from exc
            except DBAPIError as exc:
                if isinstance(exc, IntegrityError):
                    raise
                raise HistoryError(self._db_message(exc)) from exc
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ people and pieces
    def person(self, name: str, role: str = "student", create: bool = True) -> uuid.UUID:
        """The id of the person called `name` in `role` (made when `create` and there is none)."""
        if role not in ROLES:
            raise HistoryError(f"A person is a student or a teacher, not {role!r}.")
        name = name.strip()
        if not name:
            raise HistoryError("Give the person's name.")
        with self.read() as s:
            ids = s.scalars(select(m.Person.id).where(m.Person.name == name, m.Person.role == role)).all()
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise HistoryError(f"There are {len(ids)} {role}s called {name}: give one of their ids "
                               f"({', '.join(str(i)[:8] for i in ids)}).")
        if not create:
            raise HistoryError(f"No {role} called {name} in the history store.")

        def add(s: Session) -> uuid.UUID:
            found = s.scalars(select(m.Person.id).where(m.Person.name == name, m.Person.role == role)).first()
            if found is not None:             # made meanwhile by another writer
                return found
            p = m.Person(id=uuid.uuid4(), name=name, role=role)
            s.add(p)
            return p.id

        return self._write(add)

    def people(self) -> list[m.Person]:
        with self.read() as s:
            return list(s.scalars(select(m.Person).order_by(m.Person.role, m.Person.name)))

    def _blob(self, s: Session, sha: str, size: int, media_type: str, filename: str) -> None:
        if s.get(m.Blob, sha) is None:
            s.add(m.Blob(sha256=sha, size_bytes=size, media_type=media_type, filename=filename[:255]))

    def piece(self, score_path: str | os.PathLike, part: str, title: str = "") -> uuid.UUID:
        """The piece (score file by content, and the part); its score goes into the files folder."""
        try:
            data = Path(score_path).read_bytes()
        except OSError as exc:
            raise HistoryError(f"Cannot read the score {score_path}: {exc.strerror or exc}") from exc
        sha = self.files.put_bytes(data)
        pid = m.Piece.key(sha, part)
        name = os.path.basename(str(score_path))

        def add(s: Session) -> uuid.UUID:
            if s.get(m.Piece, pid) is None:
                self._blob(s, sha, len(data), score_media_type(name), name)
                s.add(m.Piece(id=pid, score_sha256=sha, part=part, title=title or os.path.splitext(name)[0]))
            return pid

        with self.read() as s:
            if s.get(m.Piece, pid) is not None:
                return pid
        try:
            return self._write(add)
        except IntegrityError:                # the same piece added meanwhile by another writer
            return pid

    def pieces(self) -> list[m.Piece]:
        with self.read() as s:
            return list(s.scalars(select(m.Piece).order_by(m.Piece.title, m.Piece.part)))

    def score_file(self, piece: uuid.UUID, folder: str | os.PathLike) -> Path:
        """Write a piece's score into `folder` under its own file name (the same bytes, so takes recorded
        against it are of the same piece) and return its path."""
        with self.read() as s:
            p = s.get(m.Piece, piece)
            if p is None:
                raise HistoryError(f"No piece {piece} in the history store.")
            blob = s.get(m.Blob, p.score_sha256)
        name = os.path.basename(blob.filename or "") or f"{p.title or 'score'}.musicxml"
        dest = Path(folder) / name
        if dest.exists():
            if sha256_file(dest) == p.score_sha256:
                return dest
            raise HistoryError(f"{dest} exists and is another file; give another folder.")
        write_atomic(dest, self.files.read(p.score_sha256), f"the score {dest}")
        return dest

    # ------------------------------------------------------------------ takes and analyses
    def save_take(self, student: uuid.UUID, piece: uuid.UUID, audio_path: str | os.PathLike, *,
                  record: dict | None = None, recorded_at: dt.datetime | None = None, device: str = "",
                  tempo_bpm: float | None = None, latency_ms: float = 0.0, bars: tuple[int, int] | None = None,
                  assignment: uuid.UUID | None = None) -> uuid.UUID:
        """Store a take (its audio as FLAC, by sha256) and, when given, its analysis record
        (records.analysis_record). The same audio saved again for the same student and piece is the same
        take: its id comes back, and a record adds a new analysis only when it differs from the last."""
        from musicdesk import __version__

        audio = flac_audio(audio_path)
        sha = sha256_bytes(audio.data)
        with self.read() as s:
            existing = s.scalar(select(m.Take.id).where(m.Take.audio_sha256 == sha, m.Take.student_id == student,
                                                        m.Take.piece_id == piece))
        if existing is not None:
            if record is not None:
                self.add_analysis(existing, record, only_if_new=True)
            return existing
        self.files.put_bytes(audio.data)
        when = recorded_at or _file_time(audio_path)

        def add(s: Session) -> uuid.UUID:
            self._blob(s, sha, len(audio.data), "audio/flac", audio.source_name)
            t = m.Take(id=uuid.uuid4(), student_id=student, piece_id=piece, assignment_id=assignment,
                       audio_sha256=sha, recorded_at=when, duration_s=audio.duration_s,
                       sample_rate=audio.sample_rate, device=device[:200], tempo_bpm=tempo_bpm,
                       latency_ms=float(latency_ms), first_bar=bars[0] if bars else None,
                       last_bar=bars[1] if bars else None, app_version=__version__, source_name=audio.source_name)
            s.add(t)
            s.flush()
            if record is not None:
                _add_analysis(s, t.id, record)
            _add_practice(s, student, piece, when, audio.duration_s)
            return t.id

        return self._write(add)

    def add_analysis(self, take: uuid.UUID, record: dict, only_if_new: bool = False) -> uuid.UUID:
        """Add an analysis (a re-analysis keeps the earlier ones)."""
        def add(s: Session) -> uuid.UUID:
            if s.get(m.Take, take) is None:
                raise HistoryError(f"No take {take} in the history store.")
            if only_if_new:
                last = s.scalars(select(m.Analysis).where(m.Analysis.take_id == take)
                                 .order_by(m.Analysis.created_at.desc()).limit(1)).first()
                if last is not None and _same_analysis(s, last, record):
                    return last.id
            return _add_analysis(s, take, record)

        return self._write(add)

    def resolve_take(self, text: str) -> uuid.UUID:
        """A take from its id or the first (at least 6) characters of it."""
        text = text.strip().lower()
        try:
            return uuid.UUID(text)
        except ValueError:
            pass
        if len(text) < 6 or any(c not in "0123456789abcdef-" for c in text):
            raise HistoryError(f"{text!r} is not a take id: give its id, or at least its first 6 characters "
                               "(`musicdesk history takes` lists them).")
        with self.read() as s:
            ids = [i for i in s.scalars(select(m.Take.id)) if str(i).startswith(text)]
        if len(ids) != 1:
            raise HistoryError(f"{'No take' if not ids else f'{len(ids)} takes'} with an id starting {text}.")
        return ids[0]

    def takes(self, student: uuid.UUID | None = None, piece: uuid.UUID | None = None,
              since: dt.datetime | None = None, until: dt.datetime | None = None, trashed: bool = False,
              limit: int | None = None, assignment: uuid.UUID | None = None) -> list[TakeRow]:
        """Takes, newest first, with their current analysis's ratings and current grades (of
        `assignment` only, when given)."""
        latest = (select(m.Analysis.take_id, func.max(m.Analysis.created_at).label("at"))
                  .group_by(m.Analysis.take_id).subquery())
        q = (select(m.Take, m.Person.name, m.Piece.title, m.Piece.part, m.Analysis)
             .join(m.Person, m.Person.id == m.Take.student_id).join(m.Piece, m.Piece.id == m.Take.piece_id)
             .outerjoin(latest, latest.c.take_id == m.Take.id)
             .outerjoin(m.Analysis, (m.Analysis.take_id == m.Take.id) & (m.Analysis.created_at == latest.c.at)))
        if student is not None:
            q = q.where(m.Take.student_id == student)
        if piece is not None:
            q = q.where(m.Take.piece_id == piece)
        if assignment is not None:
            q = q.where(m.Take.assignment_id == assignment)
        if since is not None:
            q = q.where(m.Take.recorded_at >= since)
        if until is not None:
            q = q.where(m.Take.recorded_at < until)
        q = q.where(m.Take.trashed_at.is_not(None) if trashed else m.Take.trashed_at.is_(None))
        q = q.order_by(m.Take.recorded_at.desc())
        if limit:
            q = q.limit(limit)
        with self.read() as s:
            rows = s.execute(q).all()
            grades, released = self._current_grades(s, [r[0].id for r in rows])
            n_comments = self._comment_counts(s, [r[0].id for r in rows])
        out = []
        for t, who, title, part, a in rows:
            out.append(TakeRow(t.id, who, title, part, t.recorded_at, t.duration_s,
                               a.n_notes if a else None, a.n_correct if a else None,
                               ({"note_accuracy": a.note_accuracy, "rhythmic_accuracy": a.rhythmic_accuracy, "intonation": a.intonation}
                                if a else {}), (a.network_ratings or {}) if a else {},
                               grades.get(t.id, {}), t.trashed_at is not None, t.assignment_id, t.student_id,
                               t.piece_id, released.get(t.id, {}), n_comments.get(t.id, 0)))
        return out

    def _comment_counts(self, s: Session, take_ids: Sequence[uuid.UUID]) -> dict:
        """take id -> its comments that no edit superseded (one grouped query; edits are few)."""
        if not take_ids:
            return {}
        ids = list(take_ids)
        total = dict(s.execute(select(m.Comment.take_id, func.count()).where(m.Comment.take_id.in_(ids))
                               .group_by(m.Comment.take_id)).all())
        edits = dict(s.execute(select(m.Comment.take_id, func.count()).where(m.Comment.take_id.in_(ids),
                                                                             m.Comment.supersedes_id.is_not(None))
                               .group_by(m.Comment.take_id)).all())
        return {t: n - edits.get(t, 0) for t, n in total.items()}

    def _current_grades(self, s: Session, take_ids: Sequence[uuid.UUID]) -> tuple[dict, dict]:
        """(take id -> criterion -> (value, scale_max, status): per grader and criterion the newest row,
        take id -> criterion -> (value, scale_max, "released"): the newest released row)."""
        if not take_ids:
            return {}, {}
        out: dict = {}
        released: dict = {}
        rows = s.execute(select(m.Grade).where(m.Grade.take_id.in_(list(take_ids)))
                         .order_by(m.Grade.created_at)).scalars().all()
        for g in current(rows):
            out.setdefault(g.take_id, {})[g.criterion] = (g.value, g.scale_max, g.status)
        for g in rows:
            if g.status == "released":
                released.setdefault(g.take_id, {})[g.criterion] = (g.value, g.scale_max, "released")
        return out, released

    def take(self, take: uuid.UUID) -> dict:
        """Everything about one take: the row, its piece and student, its analyses (newest last, the newest
        with its notes), its grades and comments (all rows: history included)."""
        with self.read() as s:
            t = s.get(m.Take, take)
            if t is None:
                raise HistoryError(f"No take {take} in the history store.")
            analyses = list(s.scalars(select(m.Analysis).where(m.Analysis.take_id == take)
                                      .order_by(m.Analysis.created_at)))
            notes = []
            if analyses:
                notes = list(s.scalars(select(m.NoteResult).where(m.NoteResult.analysis_id == analyses[-1].id)
                                       .order_by(m.NoteResult.index)))
            grades = list(s.scalars(select(m.Grade).where(m.Grade.take_id == take).order_by(m.Grade.created_at)))
            comments = list(s.scalars(select(m.Comment).where(m.Comment.take_id == take)
                                      .order_by(m.Comment.created_at)))
            names = {p.id: p.name for p in s.scalars(select(m.Person))}
            return {"take": t, "piece": s.get(m.Piece, t.piece_id), "student": names.get(t.student_id, "?"),
                    "analyses": analyses, "notes": notes, "grades": grades, "comments": comments, "names": names}

    def report(self, take: uuid.UUID) -> dict | None:
        """The take's current report as `musicdesk analyze --json` wrote it (notes from their rows)."""
        from musicdesk.history.records import report_of

        return report_of(self.take(take))

    def audio(self, take: uuid.UUID) -> bytes:
        with self.read() as s:
            t = s.get(m.Take, take)
            if t is None:
                raise HistoryError(f"No take {take} in the history store.")
            sha = t.audio_sha256
        return self.files.read(sha)

    # ------------------------------------------------------------------ grades and comments
    def grade(self, take: uuid.UUID, grader: uuid.UUID, criterion: str, value: float, scale_max: float,
              released: bool = False) -> uuid.UUID:
        """Add a grade; a grade by the same grader on the same criterion supersedes the earlier one."""
        if not (scale_max > 0 and 0 <= value <= scale_max):
            raise HistoryError(f"A grade is between 0 and its scale's top ({scale_max:g}); {value:g} is not.")
        criterion = criterion.strip()
        if not criterion:
            raise HistoryError("Give the criterion the grade is for (e.g. pitch, rhythm, tone).")

        def add(s: Session) -> uuid.UUID:
            if s.get(m.Take, take) is None:
                raise HistoryError(f"No take {take} in the history store.")
            prev = s.scalars(select(m.Grade).where(m.Grade.take_id == take, m.Grade.grader_id == grader,
                                                   m.Grade.criterion == criterion)
                             .order_by(m.Grade.created_at.desc()).limit(1)).first()
            g = m.Grade(id=uuid.uuid4(), take_id=take, grader_id=grader, criterion=criterion, value=float(value),
                        scale_max=float(scale_max), status="released" if released else "draft",
                        created_at=_after(prev.created_at if prev else None),
                        supersedes_id=prev.id if prev else None)
            s.add(g)
            return g.id

        return self._write(add)

    def release_grades(self, take: uuid.UUID, grader: uuid.UUID) -> int:
        """Release the grader's draft grades on a take (each as a new row). Returns how many."""
        def rel(s: Session) -> int:
            rows = s.scalars(select(m.Grade).where(m.Grade.take_id == take, m.Grade.grader_id == grader)
                             .order_by(m.Grade.created_at)).all()
            n = 0
            for g in current(rows):
                if g.status == "draft":
                    s.add(m.Grade(id=uuid.uuid4(), take_id=take, grader_id=grader, criterion=g.criterion,
                                  value=g.value, scale_max=g.scale_max, status="released",
                                  created_at=_after(g.created_at), supersedes_id=g.id))
                    n += 1
            return n

        return self._write(rel)

    def comment(self, take: uuid.UUID, author: uuid.UUID, text: str, note_ids: Sequence[str] = (),
                bars: tuple[int, int] | None = None, times_s: tuple[float, float] | None = None,
                supersedes: uuid.UUID | None = None) -> uuid.UUID:
        """Add a comment on a take, optionally pinned to notes, bars or a time range (an edit supersedes)."""
        text = text.strip()
        if not text:
            raise HistoryError("The comment is empty.")
        if bars and bars[0] > bars[1] or times_s and times_s[0] > times_s[1]:
            raise HistoryError("A range runs from its start to its end: give the smaller number first.")

        def add(s: Session) -> uuid.UUID:
            t = s.get(m.Take, take)
            if t is None:
                raise HistoryError(f"No take {take} in the history store.")
            if note_ids:
                a = s.scalars(select(m.Analysis.id).where(m.Analysis.take_id == take)
                              .order_by(m.Analysis.created_at.desc()).limit(1)).first()
                known = set(s.scalars(select(m.NoteResult.note_id).where(m.NoteResult.analysis_id == a))) if a else set()
                unknown = [n for n in note_ids if n not in known]
                if unknown:
                    raise HistoryError(f"The take's score has no note {unknown[0]!r}.")
            c = m.Comment(id=uuid.uuid4(), take_id=take, author_id=author, text=text, note_ids=list(note_ids),
                          first_bar=bars[0] if bars else None, last_bar=bars[1] if bars else None,
                          start_s=times_s[0] if times_s else None, end_s=times_s[1] if times_s else None,
                          supersedes_id=supersedes)
            s.add(c)
            return c.id

        return self._write(add)

    # ------------------------------------------------------------------ trash
    def trash(self, take: uuid.UUID) -> None:
        self._set_trashed(take, m.utcnow())

    def restore(self, take: uuid.UUID) -> None:
        self._set_trashed(take, None)

    def _set_trashed(self, take: uuid.UUID, when: dt.datetime | None) -> None:
        def work(s: Session) -> None:
            if s.execute(update(m.Take).where(m.Take.id == take).values(trashed_at=when)).rowcount != 1:
                raise HistoryError(f"No take {take} in the history store.")

        self._write(work)

    def empty_trash(self) -> int:
        """Delete the takes in the trash for good, with their analyses, grades, comments and files no other
        row uses. Returns how many takes went."""
        def work(s: Session) -> tuple[int, set[str]]:
            ids = list(s.scalars(select(m.Take.id).where(m.Take.trashed_at.is_not(None))))
            if not ids:
                return 0, set()
            shas = set(s.scalars(select(m.Take.audio_sha256).where(m.Take.id.in_(ids))))
            an = select(m.Analysis.id).where(m.Analysis.take_id.in_(ids))
            s.execute(delete(m.NoteResult).where(m.NoteResult.analysis_id.in_(an)))
            s.execute(delete(m.Analysis).where(m.Analysis.take_id.in_(ids)))
            for model in (m.Grade, m.Comment):        # newest first: a row's supersedes_id names an older one
                s.execute(update(model).where(model.take_id.in_(ids)).values(supersedes_id=None))
                s.execute(delete(model).where(model.take_id.in_(ids)))
            s.execute(delete(m.Take).where(m.Take.id.in_(ids)))
            still = set(s.scalars(select(m.Take.audio_sha256).where(m.Take.audio_sha256.in_(shas))))
            gone = shas - still
            if gone:
                s.execute(delete(m.Blob).where(m.Blob.sha256.in_(gone)))
            return len(ids), gone

        n, gone = self._write(work)
        for sha in gone:            # after the commit: a crash before this leaves only unreferenced files
            self.files.remove(sha)
        return n

    # ------------------------------------------------------------------ progress
    def progress(self, student: uuid.UUID, piece: uuid.UUID, takes: Sequence[TakeRow] | None = None):
        """musicdesk.history.progress.Progress of a student's takes of a piece (oldest first); `takes`:
        those takes, oldest first, when the caller has just listed them."""
        from musicdesk.history.progress import progress_of

        takes = list(takes) if takes is not None else list(reversed(self.takes(student=student, piece=piece)))
        with self.read() as s:
            aids = _latest_analysis_ids(s, [t.id for t in takes])
            counts, values = _note_values(s, list(aids.values()))
        return progress_of(takes, aids, counts, values)

    def compare(self, take_a: uuid.UUID, take_b: uuid.UUID):
        """musicdesk.history.progress.Comparison: per note, what improved from take A to take B."""
        from musicdesk.history.progress import compare_notes

        with self.read() as s:
            aids = _latest_analysis_ids(s, [take_a, take_b])
            for t in (take_a, take_b):
                if t not in aids:
                    raise HistoryError(f"Take {str(t)[:8]} has no analysis to compare.")
            pa, pb = (s.get(m.Take, take_a).piece_id, s.get(m.Take, take_b).piece_id)
            if pa != pb:
                raise HistoryError("The two takes are of different pieces (or parts): compare takes of one piece.")
            notes = {t: list(s.scalars(select(m.NoteResult).where(m.NoteResult.analysis_id == aids[t])
                                       .order_by(m.NoteResult.index))) for t in (take_a, take_b)}
        return compare_notes(notes[take_a], notes[take_b])

    def practice(self, student: uuid.UUID | None = None, piece: uuid.UUID | None = None) -> list[tuple[str, float]]:
        """(day, seconds recorded) per day, oldest first."""
        q = select(m.PracticeDay.day, func.sum(m.PracticeDay.seconds)).group_by(m.PracticeDay.day)
        if student is not None:
            q = q.where(m.PracticeDay.student_id == student)
        if piece is not None:
            q = q.where(m.PracticeDay.piece_id == piece)
        with self.read() as s:
            return [(d, float(sec)) for d, sec in s.execute(q.order_by(m.PracticeDay.day))]

    def add_practice(self, student: uuid.UUID, piece: uuid.UUID, seconds: float,
                     when: dt.datetime | None = None) -> None:
        """Count `seconds` of practice not recorded as a take (playing along, the tuner, a session the
        window timed) on the day of `when` (default now, local time)."""
        if not seconds > 0:
            raise ValueError("Practice time must be more than 0 seconds.")
        self._write(lambda s: _add_practice(s, student, piece, when or m.utcnow(), float(seconds)))

    # ------------------------------------------------------------------ assignments
    def assign(self, teacher: uuid.UUID, piece: uuid.UUID, title: str, *, bars: tuple[int, int] | None = None,
               tempo_bpm: float | None = None, due: dt.datetime | None = None,
               criteria: Sequence[str] = ("pitch", "rhythm", "intonation"), scale_max: float = 10.0,
               instructions: str = "", student: uuid.UUID | None = None) -> uuid.UUID:
        """A teacher's assignment: a piece (its part), the bars and tempo to play, a due date, the
        criteria and the top of the scale it will be graded on, and instructions; for one student or
        (student None) anyone who imports it."""
        title = title.strip()
        if not title:
            raise ValueError("An assignment needs a title.")
        criteria = [c.strip() for c in criteria if c.strip()]
        if not criteria:
            raise ValueError("An assignment needs at least one criterion to grade.")
        if not scale_max > 0:
            raise ValueError("The top of the grading scale must be more than 0.")
        if bars is not None and not (0 <= bars[0] <= bars[1]):
            raise ValueError(f"Bars {bars[0]}-{bars[1]}: give a range like 3-8 (the pickup is bar 0).")
        if tempo_bpm is not None and not 20 <= tempo_bpm <= 400:
            raise ValueError(f"A tempo of {tempo_bpm:g} bpm is out of range (20-400).")

        def add(s: Session) -> uuid.UUID:
            if s.get(m.Piece, piece) is None:
                raise HistoryError(f"No piece {piece} in the history store.")
            a = m.Assignment(id=uuid.uuid4(), piece_id=piece, teacher_id=teacher, student_id=student,
                             title=title[:300], first_bar=bars[0] if bars else None,
                             last_bar=bars[1] if bars else None, tempo_bpm=tempo_bpm, due=due,
                             criteria=criteria, scale_max=float(scale_max), instructions=instructions)
            s.add(a)
            return a.id

        return self._write(add)

    def assignments(self, student: uuid.UUID | None = None) -> list[m.Assignment]:
        """Assignments, by due date (none last): for `student`, theirs and those for anyone."""
        q = select(m.Assignment)
        if student is not None:
            q = q.where((m.Assignment.student_id == student) | (m.Assignment.student_id.is_(None)))
        with self.read() as s:
            rows = list(s.scalars(q))
        far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
        return sorted(rows, key=lambda a: (a.due or far, a.created_at))

    def resolve_assignment(self, text: str) -> uuid.UUID:
        """An assignment's id from its id, its first 6 or more characters, or its exact title."""
        rows = self.assignments()
        low = text.strip().lower()
        found = [a for a in rows if len(low) >= 6 and str(a.id).startswith(low)] or \
            [a for a in rows if a.title.lower() == low]
        if len(found) != 1:
            raise HistoryError(f"No assignment matches {text!r}; `musicdesk history assignments` lists them."
                               if not found else f"{len(found)} assignments match {text!r}: give its id.")
        return found[0].id

    def submit(self, assignment: uuid.UUID, takes: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """Mark `takes` as played for `assignment` (they must be of its piece, and of its student when it
        names one), for a submission bundle. Returns them."""
        def work(s: Session) -> list[uuid.UUID]:
            a = s.get(m.Assignment, assignment)
            if a is None:
                raise HistoryError(f"No assignment {assignment} in the history store.")
            for tid in takes:
                t = s.get(m.Take, tid)
                if t is None:
                    raise HistoryError(f"No take {tid} in the history store.")
                if t.piece_id != a.piece_id:
                    raise HistoryError(f"Take {str(tid)[:8]} is of another piece or part than the assignment "
                                       f"{a.title!r}; record the assigned piece and part.")
                if a.student_id is not None and t.student_id != a.student_id:
                    raise HistoryError(f"Take {str(tid)[:8]} is by another student than the assignment's.")
                if t.trashed_at is not None:
                    raise HistoryError(f"Take {str(tid)[:8]} is in the trash; restore it first.")
                t.assignment_id = assignment
            return list(takes)

        if not takes:
            raise ValueError("A submission needs at least one take.")
        return self._write(work)

    def submitted(self, assignment: uuid.UUID) -> list[TakeRow]:
        """The takes submitted (or recorded) for `assignment`, newest first."""
        return self.takes(assignment=assignment)

    # ------------------------------------------------------------------ calibration
    def released_grades(self, grader: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str, float, dict]]:
        """(take id, criterion, grade as a share of its scale, the take's current analysis as a dict with
        summary, ratings, network_model, network_version, network_ratings and network_embedding) for every
        current released grade."""
        with self.read() as s:
            q = select(m.Grade).order_by(m.Grade.created_at)
            if grader is not None:
                q = q.where(m.Grade.grader_id == grader)
            grades = [g for g in current(s.scalars(q).all()) if g.status == "released"]
            aids = _latest_analysis_ids(s, list({g.take_id for g in grades}))
            out = []
            for g in grades:
                if g.take_id not in aids:
                    continue
                a = s.get(m.Analysis, aids[g.take_id])
                out.append((g.take_id, g.criterion, g.value / g.scale_max,
                            {"summary": a.report.get("summary", {}), "ratings": a.report.get("ratings", {}),
                             "network_model": a.network_model, "network_version": a.network_version,
                             "network_ratings": a.network_ratings,
                             "network_embedding": a.network_embedding}))
            return out

    # ------------------------------------------------------------------ backup
    def backup(self, dest: str | os.PathLike) -> Path:
        """A bundle of everything in the store (musicdesk.history.bundle), importable into any store."""
        from musicdesk.history.bundle import export_bundle

        with self.read() as s:
            ids = list(s.scalars(select(m.Take.id)))
        return export_bundle(self, dest, take_ids=ids, kind="backup", with_trash=True)

    def integrity_problems(self) -> list[str]:
        """What is wrong with the store: SQLite's integrity check, and files its rows name that are
        missing or damaged. Empty when all is well."""
        out = []
        if is_sqlite(self.url):
            with self.engine.connect() as c:
                res = [r[0] for r in c.exec_driver_sql("PRAGMA integrity_check")]
                if res != ["ok"]:
                    out += res
                fk = list(c.exec_driver_sql("PRAGMA foreign_key_check"))
                if fk:
                    out.append(f"{len(fk)} rows name a missing row")
        with self.read() as s:
            for sha in s.scalars(select(m.Blob.sha256)):
                p = self.files.path(sha)
                if not p.is_file() or sha256_file(p) != sha:
                    out.append(f"file {sha[:12]} missing or damaged")
        return out


# ---------------------------------------------------------------------- helpers (within a session)
def current(rows: Sequence) -> list:
    """Of grade or comment rows (oldest first), those no later row supersedes."""
    superseded = {r.supersedes_id for r in rows if r.supersedes_id is not None}
    return [r for r in rows if r.id not in superseded]


def _after(t: dt.datetime | None) -> dt.datetime:
    """Now, or just after `t` when the clock has not moved on (so that 'newest' is well defined)."""
    now = m.utcnow()
    if t is not None and now <= t:
        now = t + dt.timedelta(microseconds=1)
    return now


def _file_time(path) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(os.path.getmtime(path), dt.timezone.utc)
    except OSError:
        return m.utcnow()


def _add_analysis(s: Session, take: uuid.UUID, record: dict, analysis_id: uuid.UUID | None = None,
                  created_at: dt.datetime | None = None) -> uuid.UUID:
    rep = record["report"]
    ratings = rep.get("ratings", {})
    summary = rep.get("summary", {})
    last = s.scalar(select(func.max(m.Analysis.created_at)).where(m.Analysis.take_id == take))
    if last is not None and last.tzinfo is None:    # max() returns the raw column: UTCDateTime is not applied
        last = last.replace(tzinfo=dt.timezone.utc)
    a = m.Analysis(id=analysis_id or uuid.uuid4(), take_id=take, created_at=created_at or _after(last),
                   app_version=record.get("app_version", ""), tracker=record.get("tracker", "") or "",
                   n_notes=int(summary.get("n_notes", len(rep.get("notes", ())))),
                   n_correct=int(summary.get("n_correct", 0)),
                   note_accuracy=float(ratings.get("note_accuracy", 0.0)), rhythmic_accuracy=float(ratings.get("rhythmic_accuracy", 0.0)),
                   intonation=float(ratings.get("intonation", 0.0)), network_model=record.get("network_model"),
                   network_version=record.get("network_version"), network_ratings=record.get("network_ratings"),
                   network_embedding=record.get("network_embedding"), report=report_without_notes(rep))
    s.add(a)
    s.flush()
    rows = note_rows(rep)
    if rows:
        s.execute(m.NoteResult.__table__.insert(), [{"analysis_id": a.id, **r} for r in rows])
    return a.id


def _same_analysis(s: Session, last: m.Analysis, record: dict) -> bool:
    """Whether `record` says what the stored analysis `last` says (the same take opened again)."""
    if last.report != report_without_notes(record["report"]) or last.network_ratings != record.get("network_ratings"):
        return False
    cols = [c.name for c in m.NoteResult.__table__.columns if c.name != "analysis_id"]
    stored = [{c: getattr(r, c) for c in cols} for r in
              s.scalars(select(m.NoteResult).where(m.NoteResult.analysis_id == last.id).order_by(m.NoteResult.index))]
    return stored == [{c: r.get(c) for c in cols} for r in note_rows(record["report"])]


def _add_practice(s: Session, student: uuid.UUID, piece: uuid.UUID, when: dt.datetime, seconds: float) -> None:
    day = when.astimezone().date().isoformat()
    key = m.PracticeDay.key(student, piece, day)
    row = s.get(m.PracticeDay, key)
    if row is None:
        s.add(m.PracticeDay(id=key, student_id=student, piece_id=piece, day=day, seconds=float(seconds)))
    else:
        row.seconds += float(seconds)


def _note_values(s: Session, analysis_ids: list) -> tuple[list, np.ndarray]:
    """((analysis id, row count) ..., array of (bar, right, |cents| if right, |timing ms|)) of the note
    rows of those analyses, both in analysis-id order. The ids come once per analysis, not once per
    row: turning 30,000 ids into uuid.UUID cost more than the rest of a 100-take progress together."""
    if not analysis_ids:
        return [], np.zeros((0, 4))
    nr = m.NoteResult
    where = nr.analysis_id.in_(analysis_ids)
    counts = s.execute(select(nr.analysis_id, func.count()).where(where)
                       .group_by(nr.analysis_id).order_by(nr.analysis_id)).all()
    right = nr.status == "correct"
    none = -1.0           # the absolute values are >= 0, so -1 stands for NULL and numpy reads plain floats
    q = select(nr.bar, case((right, 1), else_=0), func.coalesce(case((right, func.abs(nr.cents)), else_=None), none),
               func.coalesce(func.abs(nr.timing_error_ms), none)).where(where).order_by(nr.analysis_id)
    # Core rows read straight into numpy: ORM rows, or numpy probing Row objects, cost more than the query
    values = np.fromiter(itertools.chain.from_iterable(s.connection().execute(q)), dtype=float).reshape(-1, 4)
    values[values == none] = np.nan
    if len(values) != sum(n for _, n in counts):      # rows deleted between the two reads (emptying the trash)
        return _note_values(s, analysis_ids)
    return counts, values


def _latest_analysis_ids(s: Session, take_ids: Sequence[uuid.UUID]) -> dict:
    """take id -> id of its newest analysis (takes with none are left out)."""
    if not take_ids:
        return {}
    latest = (select(m.Analysis.take_id, func.max(m.Analysis.created_at).label("at"))
              .where(m.Analysis.take_id.in_(list(take_ids))).group_by(m.Analysis.take_id).subquery())
    q = select(m.Analysis.take_id, m.Analysis.id).join(
        latest, (latest.c.take_id == m.Analysis.take_id) & (latest.c.at == m.Analysis.created_at))
    return {t: a for t, a in s.execute(q)}


__all__ = ["Store", "TakeRow", "HistoryError", "current"]
