"""Plain records between the analysis pipeline and the store: what of an Analysis is kept, as JSON-able
dicts, and the note rows of a report. Pure functions; no database here."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

NOTE_FIELDS = ("index", "measure", "beat", "expected_midi", "status", "timing", "intonation", "played_midi",
               "cents", "intonation_cents", "timing_error_ms", "onset_s", "offset_s", "expected_name",
               "played_name", "expected_concert_name", "played_concert_name")


def analysis_record(analysis, network_version: str | None = None) -> dict:
    """What the store keeps of a musicdesk.analysis.Analysis: the JSON report (its notes included) and the
    network's ratings and embedding (for calibration from the store)."""
    from musicdesk import __version__

    rep = analysis.report.to_json_dict()
    a = analysis.assessment
    return {
        "app_version": __version__,
        "tracker": getattr(analysis.contour, "tracker", "") or "",
        "report": rep,
        "network_model": a.model if a is not None else None,
        # which weights rated the take (assess.weights.weights_id; the app's version before 2026-12-07)
        "network_version": network_version or ((a.weights_id or __version__) if a is not None else None),
        "network_ratings": ({k: round(float(v), 4) for k, v in a.ratings.items()} if a is not None else None),
        "network_embedding": ([round(float(v), 5) for v in a.embedding] if a is not None and a.embedding is not None
                              else None),
    }


def note_rows(report: dict) -> list[dict]:
    """The report's notes as NoteResult rows (`measure` becomes `bar`)."""
    out = []
    for n in report.get("notes", ()):
        row = {k: n.get(k) for k in NOTE_FIELDS}
        row["note_id"] = str(n["id"])
        row["bar"] = int(row.pop("measure"))
        for k in ("expected_name", "expected_concert_name"):
            row[k] = row[k] or ""
        out.append(row)
    return out


def report_without_notes(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "notes"}


def report_of(take: dict) -> dict | None:
    """The current report (`analyze --json`'s form) of Store.take()'s dict: its newest analysis's
    report, the notes from their rows; None when the take was never analysed."""
    if not take["analyses"]:
        return None
    rep = dict(take["analyses"][-1].report)
    rep["notes"] = note_dicts(take["notes"])
    return rep


def note_dicts(rows) -> list[dict]:
    """NoteResult rows back to the report's note dicts (the inverse of note_rows)."""
    out = []
    for r in rows:
        d = {"id": r.note_id}
        for k in NOTE_FIELDS:
            d[k] = getattr(r, "bar" if k == "measure" else k)
        out.append(d)
    return out


@dataclass(frozen=True)
class AudioFile:
    """A take's audio as the store keeps it: FLAC bytes, and what they hold."""

    data: bytes
    sample_rate: int
    duration_s: float
    source_name: str


def flac_audio(path: str | os.PathLike) -> AudioFile:
    """The take at `path` as FLAC bytes: a FLAC file as it is, other formats losslessly re-encoded
    (16- or 24-bit as the source; float sources at 24 bits)."""
    import soundfile as sf

    path = str(path)
    try:
        info = sf.info(path)
    except Exception as exc:   # soundfile raises its own error types, or RuntimeError
        from musicdesk.history.db import HistoryError

        raise HistoryError(f"Cannot read the take {os.path.basename(path)}: {exc}") from exc
    if info.format == "FLAC":
        with open(path, "rb") as fh:
            data = fh.read()
    else:
        x, sr = sf.read(path, dtype="float32" if info.subtype not in ("PCM_16", "PCM_S8", "PCM_U8") else "int16",
                        always_2d=True)
        buf = io.BytesIO()
        subtype = "PCM_16" if info.subtype in ("PCM_16", "PCM_S8", "PCM_U8") else "PCM_24"
        sf.write(buf, x, sr, format="FLAC", subtype=subtype)
        data = buf.getvalue()
    return AudioFile(data, int(info.samplerate), float(info.frames) / float(info.samplerate),
                     os.path.basename(path))


SCORE_MEDIA_TYPES = {".musicxml": "application/vnd.recordare.musicxml+xml", ".xml": "application/xml",
                     ".mxl": "application/vnd.recordare.musicxml", ".mid": "audio/midi", ".midi": "audio/midi",
                     ".abc": "text/vnd.abc", ".krn": "text/x-kern"}


def score_media_type(filename: str) -> str:
    return SCORE_MEDIA_TYPES.get(os.path.splitext(filename)[1].lower(), "application/octet-stream")
