"""The first schema of the history store.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

from musicdesk.history.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_person_name", "person", ["name"])
    op.create_table(
        "piece",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("score_sha256", sa.String(64), sa.ForeignKey("blob.sha256"), nullable=False),
        sa.Column("part", sa.String(200), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("score_sha256", "part"),
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("piece_id", sa.Uuid(), sa.ForeignKey("piece.id"), nullable=False),
        sa.Column("teacher_id", sa.Uuid(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("student_id", sa.Uuid(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("first_bar", sa.Integer(), nullable=True),
        sa.Column("last_bar", sa.Integer(), nullable=True),
        sa.Column("tempo_bpm", sa.Float(), nullable=True),
        sa.Column("due", UTCDateTime(), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("scale_max", sa.Float(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_assignment_piece_id", "assignment", ["piece_id"])
    op.create_table(
        "take",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("student_id", sa.Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("piece_id", sa.Uuid(), sa.ForeignKey("piece.id"), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), sa.ForeignKey("assignment.id"), nullable=True),
        sa.Column("audio_sha256", sa.String(64), sa.ForeignKey("blob.sha256"), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(200), nullable=False),
        sa.Column("tempo_bpm", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("first_bar", sa.Integer(), nullable=True),
        sa.Column("last_bar", sa.Integer(), nullable=True),
        sa.Column("app_version", sa.String(32), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
    )
    op.create_index("ix_take_piece_id", "take", ["piece_id"])
    op.create_index("ix_take_student_piece_time", "take", ["student_id", "piece_id", "recorded_at"])
    op.create_table(
        "analysis",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("take_id", sa.Uuid(), sa.ForeignKey("take.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("app_version", sa.String(32), nullable=False),
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("n_notes", sa.Integer(), nullable=False),
        sa.Column("n_correct", sa.Integer(), nullable=False),
        sa.Column("note_accuracy", sa.Float(), nullable=False),
        sa.Column("rhythmic_accuracy", sa.Float(), nullable=False),
        sa.Column("intonation", sa.Float(), nullable=False),
        sa.Column("network_model", sa.String(64), nullable=True),
        sa.Column("network_version", sa.String(64), nullable=True),
        sa.Column("network_ratings", sa.JSON(), nullable=True),
        sa.Column("network_embedding", sa.JSON(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
    )
    op.create_index("ix_analysis_take_id", "analysis", ["take_id"])
    op.create_table(
        "note_result",
        sa.Column("analysis_id", sa.Uuid(), sa.ForeignKey("analysis.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("note_id", sa.String(64), primary_key=True),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("bar", sa.Integer(), nullable=False),
        sa.Column("beat", sa.Float(), nullable=False),
        sa.Column("expected_midi", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timing", sa.String(16), nullable=True),
        sa.Column("intonation", sa.String(16), nullable=True),
        sa.Column("played_midi", sa.Float(), nullable=True),
        sa.Column("cents", sa.Float(), nullable=True),
        sa.Column("intonation_cents", sa.Float(), nullable=True),
        sa.Column("timing_error_ms", sa.Float(), nullable=True),
        sa.Column("onset_s", sa.Float(), nullable=True),
        sa.Column("offset_s", sa.Float(), nullable=True),
        sa.Column("expected_name", sa.String(8), nullable=False),
        sa.Column("played_name", sa.String(8), nullable=True),
        sa.Column("expected_concert_name", sa.String(8), nullable=False),
        sa.Column("played_concert_name", sa.String(8), nullable=True),
    )
    op.create_index("ix_note_result_analysis_bar", "note_result", ["analysis_id", "bar"])
    op.create_table(
        "grade",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("take_id", sa.Uuid(), sa.ForeignKey("take.id"), nullable=False),
        sa.Column("grader_id", sa.Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("criterion", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("scale_max", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), sa.ForeignKey("grade.id"), nullable=True),
    )
    op.create_index("ix_grade_take_id", "grade", ["take_id"])
    op.create_table(
        "comment",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("take_id", sa.Uuid(), sa.ForeignKey("take.id"), nullable=False),
        sa.Column("author_id", sa.Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("note_ids", sa.JSON(), nullable=False),
        sa.Column("first_bar", sa.Integer(), nullable=True),
        sa.Column("last_bar", sa.Integer(), nullable=True),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), sa.ForeignKey("comment.id"), nullable=True),
    )
    op.create_index("ix_comment_take_id", "comment", ["take_id"])
    op.create_table(
        "practice_day",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("student_id", sa.Uuid(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("piece_id", sa.Uuid(), sa.ForeignKey("piece.id"), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_practice_day_student_id", "practice_day", ["student_id"])


def downgrade() -> None:
    for t in ("practice_day", "comment", "grade", "note_result", "analysis", "take", "assignment", "piece",
              "person", "blob"):
        op.drop_table(t)
