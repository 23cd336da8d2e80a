"""Opening a stored take again: its audio and score as files, and its stored analysis as the
musicdesk.analysis.Analysis the window draws (the stored judgement, not a new one).

The report, the ratings and the network's ratings come back exactly as they were stored. The pitch
contour is not stored (it is 100 frames a second); it is tracked again from the stored audio with the
tracker named in the analysis, and refined with the stored alignment, as the pipeline does.
"""
from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from musicdesk.history.db import HistoryError


@dataclass(frozen=True)
class StoredTake:
    """A stored take, as files the window can open, and its stored judgement."""

    take_id: uuid.UUID
    audio_path: str                    # the take's FLAC, written once under the cache folder
    score_sha256: str
    part: str
    bars: tuple[int, int] | None       # the bars played (None: the whole part)
    report: dict | None                # the current analysis's report (`analyze --json`), None if never analysed
    tracker: str
    network_model: str | None
    network_ratings: dict | None
    recorded_at: str                   # ISO time, for titles
    app_version: str                   # of the analysis (or the take, when it has none)


def piece_key(score_path: str | os.PathLike, part: str) -> uuid.UUID:
    """The id the store gives (or would give) to this score file's part, without writing anything."""
    from musicdesk.history import models as m
    from musicdesk.history.files import sha256_file

    return m.Piece.key(sha256_file(score_path), part)


def fetch(store, take_id: uuid.UUID, folder: str | os.PathLike) -> StoredTake:
    """The take's audio written to `folder` (by content, so twice is once) and its current analysis."""
    from musicdesk.history.records import report_of

    d = store.take(take_id)            # one read: the report comes from it, not from a second store.report()
    t = d["take"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{t.audio_sha256[:16]}.flac"
    if not path.exists():
        from musicdesk.history.files import write_atomic

        write_atomic(path, store.audio(take_id), "the take's audio")
    a = d["analyses"][-1] if d["analyses"] else None
    return StoredTake(
        take_id=t.id, audio_path=str(path), score_sha256=d["piece"].score_sha256, part=d["piece"].part,
        bars=(t.first_bar, t.last_bar) if t.first_bar is not None and t.last_bar is not None else None,
        report=report_of(d), tracker=a.tracker if a is not None else "",
        network_model=a.network_model if a is not None else None,
        network_ratings=a.network_ratings if a is not None else None,
        recorded_at=t.recorded_at.isoformat(timespec="minutes"),
        app_version=(a.app_version if a is not None else t.app_version))


def report_from_json(d: dict):
    """musicdesk.feedback.Report from its JSON form (Report.to_json_dict); unknown keys are ignored, so
    a report from a later version still opens."""
    from musicdesk.feedback import ExtraNote, NoteResult, Report

    def make(cls, row: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})

    try:
        return Report(notes=tuple(make(NoteResult, n) for n in d.get("notes", ())),
                      extra_notes=tuple(make(ExtraNote, e) for e in d.get("extra_notes", ())),
                      summary=dict(d.get("summary", {})), ratings=dict(d.get("ratings", {})),
                      warnings=tuple(d.get("warnings", ())), remarks=tuple(d.get("remarks", ())))
    except TypeError as exc:      # a field the report needs is missing
        raise HistoryError(f"The stored analysis cannot be read ({exc}); analyse the take again.") from exc


def stored_analysis(stored: StoredTake, score, take):
    """The Analysis of `take` (musicdesk.audio.Take of stored.audio_path) against `score` (the part's
    full Score; its excerpt when the take was of some bars), from the stored report. Raises
    HistoryError when the take was never analysed or its notes do not belong to this score."""
    from musicdesk.align import Alignment, NoteAlignment
    from musicdesk.analysis import Analysis, expected_midi_per_frame
    from musicdesk.pitch import DEFAULT_TRACKER, refine_with_score, track_pitch

    if stored.report is None:
        raise HistoryError("This take was never analysed: open it as a take to analyse it.")
    judged = score
    if stored.bars is not None:
        from musicdesk.loop_takes import excerpt

        try:
            judged = excerpt(score, *stored.bars)
        except ValueError as exc:
            raise HistoryError(f"Bars {stored.bars[0]}-{stored.bars[1]} of this take are not in the score.") from exc
    rep = report_from_json(stored.report)
    ids = [n.id for n in judged.notes]
    if len(rep.notes) != len(ids) or any(r.index >= len(ids) or ids[r.index] != r.id for r in rep.notes):
        raise HistoryError("The stored analysis does not match this score's notes (the score was edited?).")
    alignment = Alignment(notes=tuple(NoteAlignment(r.index, r.onset_s, r.offset_s) for r in rep.notes),
                          extra=tuple((e.onset_s, e.offset_s) for e in rep.extra_notes), method="stored")
    tracker = stored.tracker or DEFAULT_TRACKER
    try:
        contour = track_pitch(take, tracker=tracker)
    except (ValueError, KeyError):    # a tracker this version does not have
        contour = track_pitch(take, tracker=DEFAULT_TRACKER)
    contour = refine_with_score(contour, expected_midi_per_frame(judged, alignment, contour.times_s))
    assessment = None
    if stored.network_ratings:
        from musicdesk.assess.predict import Assessment

        assessment = Assessment(model=stored.network_model or "network", device="stored",
                                ratings=dict(stored.network_ratings))
    return Analysis(report=rep, contour=contour, alignment=alignment, score=judged, assessment=assessment)


def open_stored(store, take_id: uuid.UUID, score, folder: str | os.PathLike):
    """(StoredTake, musicdesk.audio.Take, Analysis): a stored take ready for the window (a worker's job)."""
    from musicdesk.audio import load_take

    stored = fetch(store, take_id, folder)
    take = load_take(stored.audio_path)
    return stored, take, stored_analysis(stored, score, take)


__all__ = ["StoredTake", "piece_key", "fetch", "report_from_json", "stored_analysis", "open_stored"]
