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
            prev_on, on = idx[i - 1][0], idx[i][0]
            nxt = idx[i + 1][0]
            d = int(rng.uniform(0.15, 0.25) * sr) * int(rng.choice([-1, 1]))   # + late, - early
            la, lb = on - prev_on, nxt - on
            A = librosa.effects.time_stretch(y[prev_on:on], rate=la / (la + d))
            B = librosa.effects.time_stretch(y[on:nxt], rate=lb / (lb - d))
            A = np.pad(A, (0, max(0, la + d - len(A))))[: la + d]
            B = np.pad(B, (0, max(0, lb - d - len(B))))[: lb - d]
            _splice(y, prev_on, np.concatenate([A, B]), sr)
    return y.astype(np.float32)
