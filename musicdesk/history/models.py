"""The history store's tables, as SQLAlchemy 2 typed models (one class per table).

Keys are UUIDs, so rows made on different machines (a student's laptop, a teacher's) never clash when
bundles move between them. Rows that two machines make independently for the same thing get the same
key: a piece's key derives from its score's sha256 and part, a day's practice from (student, piece, day).
Grades and comments are never updated in place: an edit is a new row naming the one it `supersedes`.
Times are UTC. Audio and scores live in the content-addressed folder (files.py), named by sha256.

The schema is made by the Alembic migrations in migrations/versions/, not by `create_all`; a test checks
that the two agree.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

NAMESPACE = uuid.UUID("6f1b2a9e-5a0c-4e1e-9a59-3d3c2b8f7a11")   # for the keys derived from content


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone: it is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("history times must be timezone-aware")
            value = value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {uuid.UUID: Uuid(), dt.datetime: UTCDateTime(), dict: JSON(), list: JSON()}


class Blob(Base):
    """A file in the content-addressed folder: its sha256 (hex) names it."""

    __tablename__ = "blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(64))        # audio/flac, application/vnd.recordare+xml, ...
    filename: Mapped[str] = mapped_column(String(255))         # the name it had when it came in


class Person(Base):
    __tablename__ = "person"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(16))              # student | teacher
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Piece(Base):
    """A score (by content) and the part played from it."""

    __tablename__ = "piece"
    __table_args__ = (UniqueConstraint("score_sha256", "part"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    score_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    part: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @staticmethod
    def key(score_sha256: str, part: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"piece:{score_sha256}:{part}")


class Assignment(Base):
    __tablename__ = "assignment"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    piece_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("piece.id"), index=True)
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"))
    student_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person.id"))   # None: anyone
    title: Mapped[str] = mapped_column(String(300))
    first_bar: Mapped[int | None]
    last_bar: Mapped[int | None]
    tempo_bpm: Mapped[float | None] = mapped_column(Float)
    due: Mapped[dt.datetime | None]
    criteria: Mapped[list]                                     # e.g. ["pitch", "rhythm", "tone"]
    scale_max: Mapped[float] = mapped_column(Float)            # grades run 0..scale_max
    instructions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Take(Base):
    __tablename__ = "take"
    __table_args__ = (Index("ix_take_student_piece_time", "student_id", "piece_id", "recorded_at"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"))
    piece_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("piece.id"), index=True)
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assignment.id"))
    audio_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    recorded_at: Mapped[dt.datetime]
    duration_s: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[int]
    device: Mapped[str] = mapped_column(String(200), default="")
    tempo_bpm: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    first_bar: Mapped[int | None]                              # the bars played (None: the whole part)
    last_bar: Mapped[int | None]
    app_version: Mapped[str] = mapped_column(String(32))
    source_name: Mapped[str] = mapped_column(String(255), default="")   # the file name it came from
    trashed_at: Mapped[dt.datetime | None]                     # in the trash since (None: not deleted)

    analyses: Mapped[list["Analysis"]] = relationship(back_populates="take", order_by="Analysis.created_at")


class Analysis(Base):
    """One analysis of a take. Re-analysis adds a row; the newest is the take's current one."""

    __tablename__ = "analysis"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    take_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("take.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    app_version: Mapped[str] = mapped_column(String(32))
    tracker: Mapped[str] = mapped_column(String(64))
    n_notes: Mapped[int]
    n_correct: Mapped[int]
    note_accuracy: Mapped[float] = mapped_column(Float)        # the rule-based ratings, 0..1
    rhythmic_accuracy: Mapped[float] = mapped_column(Float)
    intonation: Mapped[float] = mapped_column(Float)
    network_model: Mapped[str | None] = mapped_column(String(64))
    network_version: Mapped[str | None] = mapped_column(String(64))
    network_ratings: Mapped[dict | None]                       # criterion -> 0..1
    network_embedding: Mapped[list | None]                     # for calibration from the store
    report: Mapped[dict]                                       # the JSON report less its notes (rows below)

    take: Mapped[Take] = relationship(back_populates="analyses")
    notes: Mapped[list["NoteResult"]] = relationship(order_by="NoteResult.index", cascade="all, delete-orphan",
                                                     passive_deletes=True)


class NoteResult(Base):
    """One score note's result in one analysis: queryable by note id and by bar."""

    __tablename__ = "note_result"
    __table_args__ = (Index("ix_note_result_analysis_bar", "analysis_id", "bar"),)
    analysis_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("analysis.id", ondelete="CASCADE"), primary_key=True)
    note_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    index: Mapped[int]
    bar: Mapped[int]
    beat: Mapped[float] = mapped_column(Float)
    expected_midi: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))            # correct | wrong_pitch | missed
    timing: Mapped[str | None] = mapped_column(String(16))     # on_time | early | late
    intonation: Mapped[str | None] = mapped_column(String(16))  # in_tune | sharp | flat
    played_midi: Mapped[float | None] = mapped_column(Float)
    cents: Mapped[float | None] = mapped_column(Float)
    intonation_cents: Mapped[float | None] = mapped_column(Float)
    timing_error_ms: Mapped[float | None] = mapped_column(Float)
    onset_s: Mapped[float | None] = mapped_column(Float)
    offset_s: Mapped[float | None] = mapped_column(Float)
    expected_name: Mapped[str] = mapped_column(String(8), default="")
    played_name: Mapped[str | None] = mapped_column(String(8))
    expected_concert_name: Mapped[str] = mapped_column(String(8), default="")
    played_concert_name: Mapped[str | None] = mapped_column(String(8))


class Grade(Base):
    __tablename__ = "grade"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    take_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("take.id"), index=True)
    grader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"))
    criterion: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    scale_max: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))            # draft | released
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("grade.id"))


class Comment(Base):
    """A comment on a take; optionally pinned to notes (by id), a bar range, or a time range (s)."""

    __tablename__ = "comment"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    take_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("take.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"))
    text: Mapped[str] = mapped_column(Text)
    note_ids: Mapped[list] = mapped_column(default=list)
    first_bar: Mapped[int | None]
    last_bar: Mapped[int | None]
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("comment.id"))


class PracticeDay(Base):
    """Seconds recorded by a student on a piece on one (local) day."""

    __tablename__ = "practice_day"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id"), index=True)
    piece_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("piece.id"))
    day: Mapped[str] = mapped_column(String(10))               # YYYY-MM-DD
    seconds: Mapped[float] = mapped_column(Float, default=0.0)

    @staticmethod
    def key(student_id: uuid.UUID, piece_id: uuid.UUID, day: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"practice:{student_id}:{piece_id}:{day}")


TABLES_IN_ORDER = (Blob, Person, Piece, Assignment, Take, Analysis, NoteResult, Grade, Comment, PracticeDay)
