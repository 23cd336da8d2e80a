"""A monophonic melody as tick tokens, one row of 24 per measure (the encoding of AR-VAE / MeasureVAE:
Pati, Lerch & Hadjeres 2019; Pati & Lerch 2020).

A measure is 4 quarter-note beats of 6 ticks each, at 0, 1/4, 1/3, 1/2, 2/3 and 3/4 of the beat, so
sixteenths, eighth-note triplets and everything coarser fall on ticks. Each tick holds one token: a
pitch (the note starts there), REST (a rest starts there), or HOLD (what sounded on the tick before
goes on). A note tied over the bar line starts the next measure with HOLD.

Other meters: a measure of fewer than 4 quarter beats (2/4; 3/4; 6/8, which is 3 quarter beats; 3/8)
fills its first ticks and the rest of the row is PAD, so every measure is one 24-tick row whatever the
meter. Measures of more than 4 quarter beats (9/8, 12/8, 5/4, ...) are not supported: `encode` refuses
them with a message. Melodies start at the first bar line: a pickup is measure 0, with rests before it.

Pitches: MIDI LOWEST_MIDI..HIGHEST_MIDI (C2-E7) have tokens; `fit_range` moves a melody by octaves into
that range. Times are in quarter-note beats.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Sequence

import numpy as np

TICK_OFFSETS: tuple[Fraction, ...] = (Fraction(0), Fraction(1, 4), Fraction(1, 3), Fraction(1, 2),
                                      Fraction(2, 3), Fraction(3, 4))
TICKS_PER_BEAT = len(TICK_OFFSETS)
MEASURE_BEATS = 4                       # the models' measure: 4 quarter beats
MEASURE_TICKS = MEASURE_BEATS * TICKS_PER_BEAT
LOWEST_MIDI, HIGHEST_MIDI = 36, 100     # C2..E7: folk tunes (moved by octaves if need be) and dMelodies
PAD, HOLD, REST, START, END = 0, 1, 2, 3, 4
FIRST_PITCH = 5
VOCAB_SIZE = FIRST_PITCH + HIGHEST_MIDI - LOWEST_MIDI + 1
SPECIAL_NAMES = {PAD: "pad", HOLD: "__", REST: "rest", START: "START", END: "END"}
_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# the ticks of a beat in quarter beats, and the beat position of every tick of a 4-beat measure
_TICK_BEATS = np.array([float(o) for o in TICK_OFFSETS])
TICK_POSITIONS = np.array([b + o for b in range(MEASURE_BEATS) for o in _TICK_BEATS])


class MelodyError(ValueError):
    """A melody the encoding cannot hold; the message says what to do."""


@dataclass(frozen=True)
class Note:
    """One note: sounding MIDI pitch, onset and duration in quarter-note beats from the first bar line."""

    midi: int
    onset_beats: float
    duration_beats: float

    @property
    def offset_beats(self) -> float:
        return self.onset_beats + self.duration_beats


@dataclass(frozen=True)
class Melody:
    """A monophonic melody in measures. Rests are the gaps between notes."""

    notes: tuple[Note, ...]
    measure_beats: float            # quarter beats per measure: 4/4 -> 4, 3/4 and 6/8 -> 3, 2/4 -> 2
    n_measures: int
    time_signature: str = "4/4"
    title: str = ""
    tempo_bpm: float = 100.0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    pickup: bool = False            # measure 0 is a pickup (its notes end it): the score's bar 0
    key_fifths: int | None = None   # the key signature as written (sharps > 0, flats < 0); None: not known
    part_name: str = ""

    @property
    def pickup_beats(self) -> float:
        """How long the pickup is (quarter beats): measure 0 from its first note (0 without a pickup)."""
        if not self.pickup:
            return 0.0
        first = min((n.onset_beats for n in self.notes_in(0)), default=0.0)
        return self.measure_beats - first

    @property
    def measure_ticks(self) -> int:
        return int(round(self.measure_beats * TICKS_PER_BEAT))

    def bar_number(self, measure: int) -> int:
        """The score's own number of measure `measure` (0-based): a pickup is bar 0, else bar 1 is first."""
        return measure if self.pickup else measure + 1

    def measure_of_bar(self, bar: int) -> int:
        """The 0-based measure of the score's bar `bar` (bar_number's inverse)."""
        return bar if self.pickup else bar - 1

    def notes_in(self, measure: int) -> list[Note]:
        """The notes that start in `measure` (0-based)."""
        a, b = measure * self.measure_beats, (measure + 1) * self.measure_beats
        return [n for n in self.notes if a - 1e-6 <= n.onset_beats < b - 1e-6]


def pitch_token(midi: int) -> int:
    if not LOWEST_MIDI <= midi <= HIGHEST_MIDI:
        raise MelodyError(f"MIDI {midi} is outside the range the melody models know "
                          f"({token_name(FIRST_PITCH)}-{token_name(VOCAB_SIZE - 1)}); move the melody by octaves.")
    return FIRST_PITCH + int(midi) - LOWEST_MIDI


def token_midi(token: int) -> int | None:
    """The MIDI pitch of a pitch token, None for the others."""
    return LOWEST_MIDI + int(token) - FIRST_PITCH if token >= FIRST_PITCH else None


def token_name(token: int) -> str:
    """'C4', 'F#5', 'rest', '__' (hold), 'pad', ..."""
    m = token_midi(token)
    if m is None:
        return SPECIAL_NAMES[int(token)]
    return f"{_NAMES[m % 12]}{m // 12 - 1}"


def measure_ticks_for(measure_beats: float) -> int:
    """Ticks a measure of `measure_beats` quarter beats uses of its 24 (the rest are PAD)."""
    t = measure_beats * TICKS_PER_BEAT
    if abs(t - round(t)) > 1e-6 or round(t) < 1:
        raise MelodyError(f"A measure of {measure_beats:g} quarter beats does not fall on the tick grid.")
    if round(t) > MEASURE_TICKS:
        raise MelodyError(f"Measures of {measure_beats:g} quarter beats are longer than the {MEASURE_BEATS} "
                          f"the melody models know (meters up to 4/4, 3/4, 6/8 and 2/4 are supported).")
    return int(round(t))


def tick_of(beats: float) -> int:
    """The nearest tick to a time in quarter beats (ticks counted from 0 over whole beats)."""
    whole = int(np.floor(beats + 1e-9))
    frac = beats - whole
    cand = np.append(_TICK_BEATS, 1.0)
    k = int(np.argmin(np.abs(cand - frac)))
    return (whole + 1) * TICKS_PER_BEAT if k == TICKS_PER_BEAT else whole * TICKS_PER_BEAT + k


def tick_beats(tick: int) -> float:
    """Quarter beats at a tick (the inverse of `tick_of` on the grid)."""
    return tick // TICKS_PER_BEAT + float(_TICK_BEATS[tick % TICKS_PER_BEAT])


def encode(melody: Melody) -> np.ndarray:
    """(n_measures, MEASURE_TICKS) int64 tokens. Onsets and ends off the grid snap to the nearest tick;
    of two notes on one tick the first is kept, and a note ends where the next one starts."""
    per = measure_ticks_for(melody.measure_beats)
    n_ticks = melody.n_measures * per
    starts = np.full(n_ticks, -1, dtype=np.int64)   # pitch token of the note starting at each tick
    sound = np.zeros(n_ticks, dtype=bool)           # a note sounds at each tick
    for n in sorted(melody.notes, key=lambda x: x.onset_beats):
        a = _global_tick(n.onset_beats, melody.measure_beats, per)
        if not 0 <= a < n_ticks or starts[a] >= 0:
            continue
        b = min(max(_global_tick(n.offset_beats, melody.measure_beats, per), a + 1), n_ticks)
        starts[a] = pitch_token(n.midi)
        sound[a:] = False     # the note before stops here
        sound[a:b] = True
    out = np.full((melody.n_measures, MEASURE_TICKS), PAD, dtype=np.int64)
    for t in range(n_ticks):
        m, k = divmod(t, per)
        if starts[t] >= 0:
            out[m, k] = starts[t]
        elif sound[t]:
            out[m, k] = HOLD
        else:   # silence: a rest starts where the sound stops, and again at every bar line
            out[m, k] = REST if (k == 0 or sound[t - 1] or starts[t - 1] >= 0) else HOLD
    return out


def _global_tick(beats: float, measure_beats: float, per: int) -> int:
    m = int(np.floor(beats / measure_beats + 1e-9))
    return m * per + tick_of(beats - m * measure_beats)


def decode(tokens: np.ndarray, measure_beats: float = MEASURE_BEATS, **melody_fields) -> Melody:
    """The melody of token rows (n_measures, MEASURE_TICKS); PAD ticks are skipped. START, END and a
    HOLD with nothing before it read as rests."""
    rows = np.atleast_2d(np.asarray(tokens))
    per = measure_ticks_for(measure_beats)
    notes: list[Note] = []
    cur: tuple[int, float] | None = None     # (midi, onset) of the sounding note
    for m, row in enumerate(rows):
        for k in range(per):
            tok = int(row[k])
            t = m * measure_beats + tick_beats(k)
            if tok == HOLD:
                continue
            if cur is not None:
                notes.append(Note(cur[0], cur[1], round(t - cur[1], 6)))
                cur = None
            if tok >= FIRST_PITCH:
                cur = (token_midi(tok), t)
    if cur is not None:
        notes.append(Note(cur[0], cur[1], round(len(rows) * measure_beats - cur[1], 6)))
    return Melody(tuple(notes), float(measure_beats), len(rows), **melody_fields)


def transpose(tokens: np.ndarray, semitones: int) -> np.ndarray:
    """Pitch tokens moved by `semitones`; MelodyError if a note leaves the range."""
    t = np.array(tokens, dtype=np.int64, copy=True)
    p = t >= FIRST_PITCH
    t[p] += int(semitones)
    if np.any(p) and (t[p].min() < FIRST_PITCH or t[p].max() >= VOCAB_SIZE):
        raise MelodyError(f"Transposing by {semitones} semitones leaves the range of the melody models.")
    return t


def transpositions(tokens: np.ndarray, max_shift: int = 6) -> list[int]:
    """The shifts in -max_shift..max_shift semitones that keep every note of `tokens` in range."""
    p = np.asarray(tokens)[np.asarray(tokens) >= FIRST_PITCH]
    if len(p) == 0:
        return [0]
    lo, hi = FIRST_PITCH - int(p.min()), VOCAB_SIZE - 1 - int(p.max())
    return [s for s in range(-max_shift, max_shift + 1) if lo <= s <= hi]


def fit_range(melody: Melody) -> Melody:
    """The melody moved by whole octaves into LOWEST_MIDI..HIGHEST_MIDI (a warning says so); MelodyError
    if it spans more than that range."""
    if not melody.notes:
        return melody
    lo, hi = min(n.midi for n in melody.notes), max(n.midi for n in melody.notes)
    if hi - lo > HIGHEST_MIDI - LOWEST_MIDI:
        raise MelodyError(f"The melody spans {hi - lo} semitones, more than the melody models know "
                          f"({HIGHEST_MIDI - LOWEST_MIDI}).")
    shift = 0
    while lo + shift < LOWEST_MIDI:
        shift += 12
    while hi + shift > HIGHEST_MIDI:
        shift -= 12
    if shift == 0:
        return melody
    return replace(melody, notes=tuple(replace(n, midi=n.midi + shift) for n in melody.notes),
                   warnings=melody.warnings + (f"moved by {shift:+d} semitones into the range of the models",))


def measure_notes(row: Sequence[int], measure_beats: float = MEASURE_BEATS) -> list[tuple[int, int, int]]:
    """The notes of one measure's tokens as (midi, onset tick, duration ticks), a note tied in from the
    measure before (a leading HOLD) left out, one tied over the bar line ending at the bar line."""
    per = measure_ticks_for(measure_beats)
    out: list[tuple[int, int, int]] = []
    cur: tuple[int, int] | None = None
    for k in range(per):
        tok = int(row[k])
        if tok == HOLD:
            continue
        if cur is not None:
            out.append((cur[0], cur[1], k - cur[1]))
            cur = None
        if tok >= FIRST_PITCH:
            cur = (token_midi(tok), k)
    if cur is not None:
        out.append((cur[0], cur[1], per - cur[1]))
    return out
