"""The stem player's music, headless: an ensemble recording separated for listening, and how its stems
are mixed (mute, solo, volume), slowed, looped by bars and exported.

The window (musicdesk.app.stems_panel) only draws what `open_ensemble` returns and calls these pure
functions; nothing here imports Qt. Times are seconds in the recording unless a name says otherwise.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from musicdesk.separate.core import SeparationError, Stems

FADER_MIN_DB = -40.0      # a fader at its bottom is off (gain 0), not -40 dB
FADER_MAX_DB = 6.0
PEAK_LIMIT = 0.99         # the mix at unity gains is scaled once so it peaks below this
ENVELOPE_HOP_S = 0.02     # the lanes' waveform: one peak per this much audio
SPEEDS = (1.0, 0.9, 0.8, 0.75, 0.7, 0.6, 0.5)   # practice speeds offered (pitch unchanged)


@dataclass(frozen=True)
class EnsembleStems:
    """An ensemble recording separated for the stem player: `stems` (musicdesk.separate.Stems), the
    score of each part (musicdesk Scores, in the stems' order), each stem's pitch contour and the
    aligned (onset_s, offset_s) of each part's notes (None where the aligner found none); `envelopes`:
    each stem's (times_s, peak) for drawing its waveform (computed with the rest, off the GUI thread)."""

    stems: Stems
    scores: tuple
    contours: tuple
    notes_s: tuple            # per part: ((onset_s | None, offset_s | None, midi), ...) in score order
    score_path: str
    audio_path: str
    envelopes: tuple = ()

    @property
    def parts(self) -> tuple[str, ...]:
        return self.stems.parts

    @property
    def duration_s(self) -> float:
        return len(self.stems.mixture) / self.stems.sr


def open_ensemble(samples: np.ndarray, sr: int, score_path: str | os.PathLike, method: str = "auto",
                  audio_path: str = "", progress: Callable[[float, str], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> EnsembleStems:
    """Separate a mono recording against every part of the score at `score_path` and track each stem's
    pitch (informed by its part's aligned notes). progress(fraction, stage); cancel() True raises
    InterruptedError. Raises SeparationError for bad input (one part, silence, too short, another piece)."""
    from musicdesk.separate.core import load_parts, separate, stem_contour

    scores = load_parts(score_path)
    report = progress or (lambda f, s: None)
    stems = separate(samples, sr, scores, method=method, cancel=cancel,
                     progress=lambda f, s: report(0.9 * f, s))
    contours = []
    for k, sc in enumerate(scores):
        if cancel is not None and cancel():
            raise InterruptedError("Separation cancelled.")
        report(0.9 + 0.1 * k / len(scores), f"tracking the pitch of {sc.part}")
        contours.append(stem_contour(stems, k, sc))
    notes = []
    for sc, al in zip(scores, stems.alignment.parts):
        notes.append(tuple((x.onset_s, x.offset_s, n.midi) for n, x in zip(sc.notes, al.notes)))
    envelopes = tuple(envelope(st, stems.sr) for st in stems.stems)
    report(1.0, "done")
    return EnsembleStems(stems, tuple(scores), tuple(contours), tuple(notes), os.fspath(score_path), audio_path,
                         envelopes)


# --------------------------------------------------------------------------- mixing

def fader_gain(volume_db: float) -> float:
    """Linear gain of a fader at `volume_db` (its bottom, FADER_MIN_DB or below, is off)."""
    if volume_db <= FADER_MIN_DB:
        return 0.0
    return float(10.0 ** (min(volume_db, FADER_MAX_DB) / 20.0))


def audible_gains(volumes_db: Sequence[float], muted: Sequence[bool], soloed: Sequence[bool]) -> np.ndarray:
    """Linear gain per stem, as a mixing desk sets them: when any stem is soloed only the soloed ones
    sound; a muted stem never sounds (mute wins over solo); each sounding stem at its fader's gain."""
    n = len(volumes_db)
    if not (len(muted) == len(soloed) == n):
        raise ValueError("one volume, mute and solo per stem")
    any_solo = any(soloed)
    return np.array([0.0 if muted[k] or (any_solo and not soloed[k]) else fader_gain(volumes_db[k])
                     for k in range(n)], np.float32)


def headroom(stems: np.ndarray) -> float:
    """The one scale (<= 1) that keeps the sum of `stems` at unity gains below PEAK_LIMIT: applied to
    every mix, so moving a fader never changes the other stems' loudness."""
    peak = float(np.max(np.abs(np.sum(stems, axis=0)))) if stems.size else 0.0
    return 1.0 if peak <= PEAK_LIMIT else PEAK_LIMIT / peak


def mix(stems: np.ndarray, gains: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Mono mix (float32) of `stems` (parts, samples) at linear `gains`, times `scale`, clipped to +-1
    (a fader above 0 dB may clip; the faders say so by their range)."""
    g = np.asarray(gains, np.float32) * np.float32(scale)
    out = g @ np.asarray(stems, np.float32)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def stretch(stems: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """Every stem played at `factor` x speed (0.5 = half speed), pitch unchanged (phase vocoder), all
    the same length: at factor f, recording time t is at t / f in the result."""
    from musicdesk.audio import Take
    from musicdesk.playback import slowed

    if abs(factor - 1.0) < 1e-9:
        return np.asarray(stems, np.float32)
    rows = [slowed(Take(np.asarray(s, np.float32), sr, ""), factor).samples for s in stems]
    n = int(round(stems.shape[1] / factor))
    return np.stack([np.pad(r, (0, max(0, n - len(r))))[:n] for r in rows]).astype(np.float32)


# --------------------------------------------------------------------------- time

def bars_span_s(ens: EnsembleStems, first_bar: int, last_bar: int) -> tuple[float, float]:
    """(start_s, end_s) in the recording of bars first_bar..last_bar (the score's own numbers), from the
    aligned notes of every part: from the earliest onset in first_bar to the earliest onset after
    last_bar (or, at the end of the piece, the latest offset in last_bar)."""
    if last_bar < first_bar:
        first_bar, last_bar = last_bar, first_bar
    starts, after, ends = [], [], []
    for sc, notes in zip(ens.scores, ens.notes_s):
        for n, (on, off, _m) in zip(sc.notes, notes):
            if on is None:
                continue
            if first_bar <= n.measure <= last_bar:
                starts.append(on)
                ends.append(off if off is not None else on)
            elif n.measure > last_bar:
                after.append(on)
    if not starts:
        raise SeparationError(f"Bars {first_bar}-{last_bar} have no notes found in the recording; choose other bars.")
    start = min(starts)
    end = min(after) if after else max(ends)
    return float(start), float(max(end, start + 0.1))


def score_timeline(ens: EnsembleStems, k: int) -> tuple[np.ndarray, list[str]]:
    """Part k's aligned onsets (s, sorted) and the engraved element id of each note: where the score's
    cursor is at each recording time."""
    pairs = sorted((on, n.element_id) for n, (on, _off, _m) in zip(ens.scores[k].notes, ens.notes_s[k])
                   if on is not None)
    return np.array([p[0] for p in pairs], float), [p[1] for p in pairs]


def envelope(samples: np.ndarray, sr: int, hop_s: float = ENVELOPE_HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """(times_s, peak) of a stem: its largest absolute sample per `hop_s`, for drawing its waveform."""
    hop = max(1, int(round(hop_s * sr)))
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0), np.zeros(0)
    peak = np.abs(np.asarray(samples[:n * hop], np.float32)).reshape(n, hop).max(axis=1)
    return (np.arange(n) + 0.5) * hop / sr, peak


# --------------------------------------------------------------------------- export

def export_audio(path: str | os.PathLike, samples: np.ndarray, sr: int) -> str:
    """Write a stem or a minus-one mix: WAV (16-bit) or FLAC by the file's suffix. Raises SeparationError
    with what to do when the format is unknown or the file cannot be written (no space, no permission)."""
    import soundfile as sf

    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in (".wav", ".flac"):
        raise SeparationError(f"Cannot export as {ext or 'a file without a suffix'}: name the file .wav or .flac.")
    try:
        sf.write(p, np.asarray(samples, np.float32), sr, subtype="PCM_16", format=ext[1:].upper())
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise SeparationError(f"Cannot write {os.path.basename(p)}: {exc}. Free some space or choose another "
                              "folder; nothing else was changed.") from exc
    return p
