"""Known damage applied to a recording, note by note: the real-recording check of the assessment
networks (benchmarks/bench_assess.py, on Bach10) and its synthetic twin on the validation melodies
(training/damage_check.py, used to choose between network designs) share these functions.

Kinds, and the criterion each touches:
- wrong: 25% of the notes pitch-shifted by 1 or 2 semitones        -> note accuracy
- detune: 40% of the notes pitch-shifted by 35-50 cents             -> intonation
- timing: 25% of the notes moved 150-250 ms early or late (the neighbouring audio stretched and
  squeezed, the total length kept), chosen among the notes with at least 0.35 s from the previous
  onset and to the next one, so that the move leaves both at least 0.1 s -> rhythmic accuracy
- cut: 20% of the notes replaced by silence                          -> note accuracy
"""
from __future__ import annotations

import numpy as np

DAMAGES = {"wrong": "note_accuracy", "detune": "intonation", "timing": "rhythmic_accuracy", "cut": "note_accuracy"}
FADE_S = 0.01   # crossfade at both ends of a replaced segment (s)
MOVE_ROOM_S = 0.35  # a note is moved only if the spans before and after its onset are this long (s)


def _splice(y: np.ndarray, a: int, new: np.ndarray, sr: int) -> None:
    """y[a:a+len(new)] = new with short crossfades at both ends."""
    f = min(int(FADE_S * sr), len(new) // 4)
    seg = new.copy()
    if f > 0:
        ramp = np.linspace(0, 1, f)
        seg[:f] = ramp * seg[:f] + (1 - ramp) * y[a:a + f]
        seg[-f:] = ramp[::-1] * seg[-f:] + (1 - ramp[::-1]) * y[a + len(seg) - f:a + len(seg)]
    y[a:a + len(seg)] = seg


def pick_notes(n: int, frac: float, rng: np.random.Generator, margin: int = 1,
               eligible: list[int] | None = None) -> list[int]:
    """About frac * n note indices (from `eligible` when given), not adjacent, not among the first or
    last `margin` notes."""
    cand = [i for i in range(margin, n - margin) if eligible is None or i in eligible]
    rng.shuffle(cand)
    chosen: list[int] = []
    for i in cand:
        if len(chosen) >= max(1, round(frac * n)):
            break
        if all(abs(i - j) > 1 for j in chosen):
            chosen.append(i)
    return sorted(chosen)


def movable_notes(notes: list[tuple[float, float]]) -> list[int]:
    """Indices of the notes the timing damage may move: at least MOVE_ROOM_S from the previous onset and
    to the next one, so a move of up to 250 ms leaves both spans at least 0.1 s."""
    on = [a for a, _ in notes]
    return [i for i in range(1, len(on) - 1) if on[i] - on[i - 1] >= MOVE_ROOM_S and on[i + 1] - on[i] >= MOVE_ROOM_S]


def damage(y: np.ndarray, sr: int, notes: list[tuple[float, float]], kind: str, rng: np.random.Generator) -> np.ndarray:
    """A copy of the recording `y` (mono, `sr` Hz) with `kind` of damage applied to randomly chosen notes.

    notes: (onset_s, offset_s) of the recording's notes in time order (a monophonic part).
    """
    import librosa

    if kind not in DAMAGES:
        raise ValueError(f"unknown damage {kind!r}; one of {', '.join(DAMAGES)}")
    y = y.astype(np.float64).copy()
    idx = [(int(a * sr), int(b * sr)) for a, b in notes]
    if kind in ("wrong", "detune"):
        for i in pick_notes(len(idx), 0.25 if kind == "wrong" else 0.4, rng):
            a, b = idx[i]
            steps = rng.choice([-2, -1, 1, 2]) if kind == "wrong" else rng.choice([-1, 1]) * rng.uniform(0.35, 0.5)
            seg = librosa.effects.pitch_shift(y[a:b], sr=sr, n_steps=float(steps))
            _splice(y, a, seg[: b - a], sr)
    elif kind == "cut":
        for i in pick_notes(len(idx), 0.2, rng):
            a, b = idx[i]
            _splice(y, a, np.zeros(b - a), sr)
    else:  # timing: only notes with room to move either way (both neighbouring spans >= 0.35 s)
        for i in pick_notes(len(idx), 0.25, rng, margin=1, eligible=movable_notes(notes)):
            _move(y, sr, [a for a, _ in idx], i, int(rng.uniform(0.15, 0.25) * sr) * int(rng.choice([-1, 1])))
    return y.astype(np.float32)


def _move(y: np.ndarray, sr: int, onsets: list[int], i: int, d: int) -> None:
    """Move the onset of note i by d samples (+ later) in place: the audio from the previous onset to
    it is stretched and from it to the next onset squeezed (or the other way), the rest untouched."""
    import librosa

    prev_on, on, nxt = onsets[i - 1], onsets[i], onsets[i + 1]
    la, lb = on - prev_on, nxt - on
    A = librosa.effects.time_stretch(y[prev_on:on], rate=la / (la + d))
    B = librosa.effects.time_stretch(y[on:nxt], rate=lb / (lb - d))
    A = np.pad(A, (0, max(0, la + d - len(A))))[: la + d]
    B = np.pad(B, (0, max(0, lb - d - len(B))))[: lb - d]
    _splice(y, prev_on, np.concatenate([A, B]), sr)


MOVED_NOTES = 4      # the moved-notes damage of the timing benchmark (benchmarks/bench_timing.py):
MOVED_S = 0.12       # this many notes, each moved exactly this far


def move_notes(y: np.ndarray, sr: int, notes: list[tuple[float, float]], rng: np.random.Generator,
               sign: int, n: int = MOVED_NOTES, move_s: float = MOVED_S) -> tuple[np.ndarray, list[int]]:
    """A copy of `y` with `n` notes (movable, not adjacent, not first or last; see `movable_notes`)
    moved `move_s` late (sign +1) or early (-1); and the indices of the notes moved."""
    y = y.astype(np.float64).copy()
    idx = pick_notes(len(notes), n / max(1, len(notes)), rng, margin=1, eligible=movable_notes(notes))[:n]
    onsets = [int(a * sr) for a, _ in notes]
    for i in idx:
        _move(y, sr, onsets, i, int(round(sign * move_s * sr)))
    return y.astype(np.float32), idx


def detune_take(y: np.ndarray, sr: int, cents: float) -> np.ndarray:
    """The whole recording shifted by `cents` (a player tuned that far from the reference)."""
    import librosa

    return librosa.effects.pitch_shift(y.astype(np.float32), sr=sr, n_steps=cents / 100.0).astype(np.float32)
