"""Teacher review over the history store: who has takes of what, a take's feedback (its comments and
grades, as the student or the teacher sees them), where each comment is pinned on the score, the rubric
a take is graded on, and "calibrate from my grades". No Qt here: the window's review panel and the
CLI call these.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Sequence

from musicdesk.history import models as m
from musicdesk.history.db import HistoryError

DEFAULT_RUBRIC = ("pitch", "rhythm", "intonation", "tone")
DEFAULT_SCALE = 10.0


# ---------------------------------------------------------------------- people, pieces, takes
@dataclass(frozen=True)
class PieceTakes:
    piece_id: uuid.UUID
    title: str
    part: str
    takes: list          # store.TakeRow, newest first


@dataclass(frozen=True)
class StudentTakes:
    student_id: uuid.UUID
    name: str
    pieces: list         # PieceTakes, by title
    n_ungraded: int      # takes with no released grade yet

    @property
    def n_takes(self) -> int:
        return sum(len(p.takes) for p in self.pieces)


def roster(store) -> list[StudentTakes]:
    """Every student with takes, by name; under each their pieces and takes (newest first). One query."""
    by_student: dict[uuid.UUID, dict[uuid.UUID, list]] = {}
    names: dict[uuid.UUID, str] = {}
    titles: dict[uuid.UUID, tuple[str, str]] = {}
    for r in store.takes():
        by_student.setdefault(r.student_id, {}).setdefault(r.piece_id, []).append(r)
        names[r.student_id] = r.student
        titles[r.piece_id] = (r.piece, r.part)
    out = []
    for sid, pieces in by_student.items():
        rows = [PieceTakes(pid, *titles[pid], takes) for pid, takes in pieces.items()]
        rows.sort(key=lambda p: (p.title.lower(), p.part))
        ungraded = sum(1 for p in rows for t in p.takes if not any(g[2] == "released" for g in t.grades.values()))
        out.append(StudentTakes(sid, names[sid], rows, ungraded))
    return sorted(out, key=lambda s: s.name.lower())


# ---------------------------------------------------------------------- feedback on one take
@dataclass(frozen=True)
class CommentView:
    """A current comment (an edited one shows its last text) and where it is pinned."""

    id: uuid.UUID
    author: str
    text: str
    note_ids: tuple[str, ...]
    bars: tuple[int, int] | None
    times_s: tuple[float, float] | None
    created_at: dt.datetime


@dataclass(frozen=True)
class GradeView:
    criterion: str
    value: float
    scale_max: float
    status: str          # draft | released
    grader: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Feedback:
    take_id: uuid.UUID
    comments: list = field(default_factory=list)      # CommentView, oldest first
    grades: list = field(default_factory=list)        # GradeView, by criterion


def feedback(store, take: uuid.UUID, released_only: bool = True, grader: uuid.UUID | None = None) -> Feedback:
    """The take's current comments and grades; drafts only when `released_only` is False (the teacher's
    own view), and then only the drafts of `grader` when given."""
    from musicdesk.history.store import current

    d = store.take(take)
    names = d["names"]
    comments = [CommentView(c.id, names.get(c.author_id, "?"), c.text, tuple(c.note_ids or ()),
                            (c.first_bar, c.last_bar) if c.first_bar is not None else None,
                            (c.start_s, c.end_s) if c.start_s is not None else None, c.created_at)
                for c in current(d["comments"])]
    if released_only:       # per grader and criterion the newest released grade (a newer draft stays hidden)
        newest = {(g.grader_id, g.criterion): g for g in d["grades"] if g.status == "released"}
        rows = list(newest.values())
    else:
        rows = [g for g in current(d["grades"]) if g.status == "released" or grader is None or g.grader_id == grader]
    grades = [GradeView(g.criterion, g.value, g.scale_max, g.status, names.get(g.grader_id, "?"), g.created_at)
              for g in rows]
    return Feedback(take, comments, sorted(grades, key=lambda g: (g.criterion, g.grader)))


@dataclass(frozen=True)
class Pin:
    """Where a comment shows: the score notes it marks (their ids) and the one its line in the
    problems list selects."""

    comment: CommentView
    note_ids: tuple[str, ...]        # score note ids (Score.notes[i].id) that carry its mark
    where: str                       # "bar 3, beat 2, F#4" / "bars 3-5" / "0:12.4-0:14.0" / "the whole take"
    first_note: str | None           # the note the problems list selects (None: the whole take)


def pins(fb: Feedback, score, report=None) -> list[Pin]:
    """Each comment placed on `score` (the judged score: an excerpt's notes when the take was of some
    bars): on its notes; on the first note of its bars; on the notes played in its time range (the
    take's `report` gives their onsets); else on the whole take."""
    from musicdesk.describe import fmt_beat, note_name

    by_id = {n.id: n for n in score.notes}
    out = []
    for c in fb.comments:
        notes: list[str] = [n for n in c.note_ids if n in by_id]
        if notes:
            n = by_id[notes[0]]
            where = f"bar {n.measure}, beat {fmt_beat(n.beat)}, {n.name or note_name(n.midi)}"
            if len(notes) > 1:
                where += f" (+{len(notes) - 1} notes)"
        elif c.bars is not None:
            notes = [n.id for n in score.notes if c.bars[0] <= n.measure <= c.bars[1]][:1]
            where = f"bar {c.bars[0]}" if c.bars[0] == c.bars[1] else f"bars {c.bars[0]}-{c.bars[1]}"
        elif c.times_s is not None:
            if report is not None:
                notes = [r.id for r in report.notes if r.onset_s is not None
                         and c.times_s[0] - 0.05 <= r.onset_s <= c.times_s[1] + 0.05 and r.id in by_id]
            where = f"{_clock(c.times_s[0])}-{_clock(c.times_s[1])}"
        else:
            where = "the whole take"
        out.append(Pin(c, tuple(notes), where, notes[0] if notes else None))
    return out


def _clock(t_s: float) -> str:
    return f"{int(t_s // 60)}:{t_s % 60:04.1f}"


# ---------------------------------------------------------------------- grading
@dataclass(frozen=True)
class Rubric:
    criteria: tuple[str, ...]
    scale_max: float
    source: str          # "the assignment <title>" or "your rubric"


def rubric_for(store, take: uuid.UUID, criteria: Sequence[str] = DEFAULT_RUBRIC,
               scale_max: float = DEFAULT_SCALE) -> Rubric:
    """The rubric a take is graded on: its assignment's criteria and scale when it was played for one,
    else the teacher's own (`criteria`, `scale_max`)."""
    with store.read() as s:
        t = s.get(m.Take, take)
        if t is None:
            raise HistoryError(f"No take {take} in the history store.")
        a = s.get(m.Assignment, t.assignment_id) if t.assignment_id else None
        if a is not None and a.criteria:
            return Rubric(tuple(a.criteria), float(a.scale_max), f"the assignment {a.title!r}")
    crit = tuple(c.strip() for c in criteria if c.strip()) or DEFAULT_RUBRIC
    return Rubric(crit, float(scale_max), "your rubric")


def save_grades(store, take: uuid.UUID, grader: uuid.UUID, values: dict, scale_max: float,
                release: bool = False) -> int:
    """Grade the take on each criterion in `values` (criterion -> value, None: not graded), as drafts,
    or released at once; a criterion whose value is unchanged is not stored again. Returns how many
    grades were stored or released."""
    fb = feedback(store, take, released_only=False, grader=grader)
    mine = {g.criterion: g for g in fb.grades}
    n = 0
    for crit, v in values.items():
        if v is None:
            continue
        g = mine.get(crit)
        if g is not None and abs(g.value - v) < 1e-9 and abs(g.scale_max - scale_max) < 1e-9:
            continue
        store.grade(take, grader, crit, float(v), float(scale_max))
        n += 1
    if release:
        n = max(n, store.release_grades(take, grader))
    return n


# ---------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class CalibrationResult:
    calibration: object | None         # assess.calibrate.Calibration, None when refused
    rows: list                         # (criterion, graded takes, cross-validated R2 or None when too few)
    message: str                       # what to tell the teacher


def calibrate_from_store(store, model: str, grader: uuid.UUID | None = None,
                         min_takes: int | None = None, weights_id: str | None = None) -> CalibrationResult:
    """Learn the teacher's grading from their released grades and the analyses stored with them (no
    take is analysed again). Criteria with fewer than `min_takes` graded takes are left out; with none
    left it refuses (calibration None) and says how many more grades it needs.

    Only analyses rated by the network's current weights count (`weights_id`, default the shipped
    file's: musicdesk.assess.weights.weights_id): an embedding of another training of the network
    means something else. Analyses stored before the weights were recorded (their network_version is
    the app's version) cannot say, and count."""
    from types import SimpleNamespace

    import numpy as np

    from musicdesk.assess import DISPLAY_NAMES
    from musicdesk.assess.calibrate import MIN_TAKES, Calibration, fit_criterion, take_features

    need = min_takes or MIN_TAKES
    name = DISPLAY_NAMES.get(model, model)
    if weights_id is None:
        weights_id = _shipped_weights_id(model)
    rows = store.released_grades(grader)
    rated = [r for r in rows if r[3]["network_model"] == name and r[3]["network_embedding"]]
    usable = [r for r in rated if _same_weights(r[3].get("network_version"), weights_id)]
    stale = len(rated) - len(usable)
    if not usable:
        more = (f" ({stale} released grades are on takes rated by other weights of {name}, from an earlier "
                "musicdesk: open those takes and analyse them again)" if stale else
                f" ({len(rows)} released grades are on takes without that network's ratings)" if rows else "")
        return CalibrationResult(None, [], f"No released grades on takes rated by {name}{more}. Grade at least "
                                 f"{need} takes and release the grades, then calibrate.")
    feats = {}
    for take, _, _, a in usable:
        analysis = SimpleNamespace(report=SimpleNamespace(summary=a["summary"], ratings=a["ratings"]))
        feats[take] = take_features(analysis, list(a["network_ratings"].values()),
                                    np.asarray(a["network_embedding"], float))
    crits, table = {}, []
    for c in sorted({r[1] for r in usable}):
        per = {t: v for t, crit, v, _ in usable if crit == c}      # one grade per take and criterion
        if len(per) < need:
            table.append((c, len(per), None))
            continue
        model_c = fit_criterion(np.stack([feats[t] for t in per]), np.array(list(per.values())))
        crits[c] = model_c
        table.append((c, len(per), model_c.cv_r2))
    if not crits:
        most = max(n for _, n, _ in table)
        return CalibrationResult(None, table, f"Too few graded takes to learn from: at most {most} per criterion, "
                                 f"and calibration needs at least {need} graded takes. Grade {need - most} more and release "
                                 "the grades.")
    weak = [c for c, _, r2 in table if r2 is not None and not r2 > 0.3]
    msg = (f"Calibrated on {name} from {len(feats)} graded takes. Cross-validated R² is the share of your "
           "grades' spread it predicts on takes it did not learn from (1 is perfect, 0 is no better than "
           "your average grade).")
    if weak:
        msg += f" For {', '.join(weak)} it predicts little: grade more takes before relying on it."
    if stale:
        msg += (f" {stale} released grades were left out: their takes were rated by other weights of {name} "
                "(an earlier musicdesk).")
    return CalibrationResult(Calibration(model, crits, weights_id), table, msg)


def _shipped_weights_id(model: str) -> str:
    """The fingerprint of the network's shipped weights ("" where the file is missing)."""
    from musicdesk.assess.weights import weights_id, weights_path

    p = weights_path(model)
    return weights_id(p) if p.is_file() else ""


def _same_weights(version: str | None, weights_id: str) -> bool:
    """Whether an analysis stored with `version` (its network_version) was rated by the weights
    `weights_id`; a version that is no weights fingerprint (the app's, before they were recorded)
    cannot say, and is taken as the same."""
    from musicdesk.assess.weights import is_weights_id

    return not weights_id or not is_weights_id(version) or version == weights_id


__all__ = ["roster", "StudentTakes", "PieceTakes", "feedback", "Feedback", "CommentView", "GradeView", "pins", "Pin",
           "Rubric", "rubric_for", "save_grades", "calibrate_from_store", "CalibrationResult", "DEFAULT_RUBRIC",
           "DEFAULT_SCALE"]
