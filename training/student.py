"""A simulated student: plays a melody with controlled, recorded errors, and the rubric that grades it.

Three independent error families, each drawn by `sample_params` so that a take can be clean in one and
bad in another (a network can only learn the criteria apart if they are decorrelated):

- pitch: wrong notes (a step or a few semitones off, sometimes an octave), missed notes, extra notes
  (a short slip inserted at the end of a note);
- intonation: a per-take tuning offset, a drift over the take, per-note random detune, occasional
  badly out-of-tune notes;
- timing: onset jitter, misplaced notes (a single note 80-300 ms early or late), rushing/dragging (the tempo changes smoothly over the take), hesitations (a
  pause before a note), restarts (stop, go back a few notes, replay them; the replay is what counts).

Not graded: the overall tempo (the student plays 0.9-1.1 x the asked tempo), articulation, loudness,
and expressive holds at phrase ends (the last note of a phrase sounds longer, a fermata, as players of
chorales and slow airs make them; `phrase_ends` says where a phrase ends). A hold sounds; a hesitation
is silence.
`play` returns the score the student was asked to play, the performed notes and an `ErrorLog`;
`labels` turns the log into the three target ratings (the rubric, see training/README.md).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from musicdesk.score import Score, ScoreNote
from musicdesk.synth import PerformedNote
from training.melodies import Melody

MIN_NOTE_S = 0.04          # shortest sounding note (s)
GAP_S = 0.005              # a note ends at least this long before the next one starts (s)
# the rubric's rhythm: note timing against the local pulse, and steadiness of that pulse (see `labels`)
LOCAL_WINDOW_BEATS = 4.0   # the local pulse of a note is fitted over the notes this many beats around it
NOTE_TIMING_MS = 250.0     # a note this far from its local pulse scores 0
DRIFT_MS = 500.0           # a local pulse this far from the take's steady tempo scores 0
NOTE_TIMING_WEIGHT = 0.7   # rhythm = 0.7 note timing + 0.3 steadiness (then pauses and restarts cost)
MISPLACED_S = (0.08, 0.30)  # how far a misplaced note comes in early or late (s)
HOLD_S = (0.2, 1.2)        # an expressive hold at a phrase end lasts this much longer than written (s)
PHRASE_END_BEATS = 1.0     # a phrase ends on a note at least this long (and twice the median) ending on a bar line
MAX_CENTS = 60.0           # total detuning of a note is kept within +-MAX_CENTS
LABEL_KEYS = ("note_accuracy", "rhythmic_accuracy", "intonation")
P_FAMILY_CLEAN = 0.35      # chance that an error family is switched off entirely in a take
PLAYABLE = (33, 94)        # MIDI range any note stays in (the analysis tracks 50-2000 Hz)


@dataclass(frozen=True)
class StudentParams:
    """Error levels of one take. Probabilities are per score note; rates per minute of playing."""

    # pitch
    p_wrong: float = 0.0                 # a wrong pitch
    p_missed: float = 0.0                # the note is left out
    p_extra: float = 0.0                 # a short wrong note is slipped in at the end of the note
    # intonation (cents; + = sharp)
    offset_cents: float = 0.0            # the whole take
    drift_cents_per_min: float = 0.0     # grows linearly over the take
    detune_sd_cents: float = 0.0         # random, per note
    p_bad_tuning: float = 0.0            # a note 30-60 cents off on top of the rest
    # timing
    jitter_sd_ms: float = 0.0            # random onset deviation per note
    p_misplaced: float = 0.0             # a note comes in 80-300 ms early or late (a rushed or late entry)
    tempo_swing: float = 0.0             # largest relative tempo change over the take (0.2 = +-20 %)
    tempo_sections: int = 1              # number of smooth tempo sections
    hesitations_per_min: float = 0.0     # pauses of 0.3-1.2 s before a note
    restarts_per_min: float = 0.0        # stop, go back 2-8 notes, replay
    # not graded
    tempo_factor: float = 1.0            # played tempo / asked tempo
    articulation: float = 0.9            # sounding fraction of each note's length
    velocity: int = 90                   # mean MIDI velocity
    lead_s: float = 1.0                  # silence before the first note
    p_phrase_hold: float = 0.0           # a phrase-end note is held (a fermata), HOLD_S longer than written

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _level(rng: np.random.Generator, lo: float, hi: float, p_on: float) -> float:
    return float(rng.uniform(lo, hi)) if rng.random() < p_on else 0.0


def sample_params(rng: np.random.Generator) -> StudentParams:
    """Random error levels: each family is off with probability P_FAMILY_CLEAN, else each of its
    components is on with some probability (at least one is) at a level uniform in its range."""
    pitch: dict = {}
    intonation: dict = {}
    timing: dict = {}
    if rng.random() >= P_FAMILY_CLEAN:
        pitch = dict(p_wrong=_level(rng, 0.02, 0.4, 0.85), p_missed=_level(rng, 0.0, 0.3, 0.5),
                     p_extra=_level(rng, 0.0, 0.12, 0.5))
        if not any(pitch.values()):
            pitch["p_wrong"] = float(rng.uniform(0.02, 0.4))
    if rng.random() >= P_FAMILY_CLEAN:
        intonation = dict(offset_cents=_level(rng, -40.0, 40.0, 0.7),
                          drift_cents_per_min=_level(rng, -30.0, 30.0, 0.5),
                          detune_sd_cents=_level(rng, 0.0, 30.0, 0.8), p_bad_tuning=_level(rng, 0.0, 0.15, 0.5))
        if not any(intonation.values()):
            intonation["detune_sd_cents"] = float(rng.uniform(5.0, 30.0))
    if rng.random() >= P_FAMILY_CLEAN:
        timing = dict(jitter_sd_ms=_level(rng, 0.0, 80.0, 0.8), p_misplaced=_level(rng, 0.0, 0.3, 0.4),
                      tempo_swing=_level(rng, 0.0, 0.2, 0.6),
                      tempo_sections=int(rng.integers(1, 4)), hesitations_per_min=_level(rng, 0.0, 4.0, 0.5),
                      restarts_per_min=_level(rng, 0.0, 1.5, 0.4))
        if not (timing["jitter_sd_ms"] or timing["p_misplaced"] or timing["tempo_swing"]
                or timing["hesitations_per_min"] or timing["restarts_per_min"]):
            timing["jitter_sd_ms"] = float(rng.uniform(10.0, 80.0))
    return StudentParams(**pitch, **intonation, **timing,
                         tempo_factor=float(rng.uniform(0.9, 1.1)), articulation=float(rng.uniform(0.75, 0.97)),
                         velocity=int(rng.integers(70, 106)), lead_s=float(rng.uniform(0.3, 1.5)))


# ----------------------------------------------------------------------------------------------------
# the log


@dataclass(frozen=True)
class NoteLog:
    """What happened to one score note (its counted performance; a restart's replay replaces the
    abandoned pass)."""

    index: int                      # score note index
    midi: int                       # score (sounding) MIDI pitch
    played: bool
    played_midi: int | None = None
    cents: float | None = None      # detuning of the played note (+ = sharp)
    onset_s: float | None = None    # performed onset in the take (s)
    dev_ms: float | None = None     # onset deviation from the take's own steady tempo, pauses removed
    local_dev_ms: float | None = None   # onset deviation from the local pulse (see `onset_deviations`)
    drift_ms: float | None = None       # how far the local pulse is from the take's steady tempo there

    @property
    def wrong(self) -> bool:
        return self.played and self.played_midi != self.midi


@dataclass(frozen=True)
class ErrorLog:
    """Everything the student did wrong in one take, per score note and in counts."""

    notes: tuple[NoteLog, ...]
    n_extra: int = 0                # short wrong notes slipped in (graded)
    n_hesitations: int = 0
    n_holds: int = 0                # expressive holds at phrase ends (not graded)
    n_restarts: int = 0
    n_abandoned: int = 0            # notes sounded in passes a restart abandoned (not graded per note)
    played_tempo_bpm: float = 0.0   # the take's own steady tempo (slope of the onset fit)
    extra: tuple[tuple[float, float, int], ...] = field(default_factory=tuple)  # (onset_s, offset_s, midi)

    @property
    def n_notes(self) -> int:
        return len(self.notes)

    @property
    def n_wrong(self) -> int:
        return sum(n.wrong for n in self.notes)

    @property
    def n_missed(self) -> int:
        return sum(not n.played for n in self.notes)

    def counts(self) -> dict:
        """The log in numbers (JSON-ready)."""
        right = [abs(n.cents) for n in self.notes if n.played and not n.wrong and n.cents is not None]
        devs = [abs(n.dev_ms) for n in self.notes if n.dev_ms is not None]
        return {
            "n_notes": self.n_notes, "n_wrong": self.n_wrong, "n_missed": self.n_missed, "n_extra": self.n_extra,
            "n_hesitations": self.n_hesitations, "n_holds": self.n_holds, "n_restarts": self.n_restarts, "n_abandoned": self.n_abandoned,
            "mean_abs_cents": round(float(np.mean(right)), 2) if right else None,
            "mean_abs_dev_ms": round(float(np.mean(devs)), 2) if devs else None,
            "played_tempo_bpm": round(self.played_tempo_bpm, 2),
        }


def labels(log: ErrorLog) -> dict[str, float]:
    """The rubric: three ratings in [0, 1] from an ErrorLog (formulas in training/README.md)."""
    n = max(1, log.n_notes)
    note_accuracy = 1.0 - (log.n_wrong + log.n_missed + 0.5 * log.n_extra) / n
    timed = [n_ for n_ in log.notes if n_.played and n_.dev_ms is not None]
    if timed:
        timing = timing_grade([n_.local_dev_ms if n_.local_dev_ms is not None else n_.dev_ms for n_ in timed],
                              [n_.drift_ms or 0.0 for n_ in timed])
    else:
        timing = 0.0
    rhythmic_accuracy = timing - 0.05 * log.n_hesitations - 0.08 * log.n_restarts
    cents = [n_.cents for n_ in log.notes if n_.played and not n_.wrong and n_.cents is not None]
    intonation = float(np.mean([max(0.0, 1.0 - abs(c) / 50.0) for c in cents])) if cents else 0.5
    return {
        "note_accuracy": float(np.clip(note_accuracy, 0.0, 1.0)),
        "rhythmic_accuracy": float(np.clip(rhythmic_accuracy, 0.0, 1.0)),
        "intonation": float(np.clip(intonation, 0.0, 1.0)),
    }


def timing_grade(local_dev_ms: Sequence[float], drift_ms: Sequence[float]) -> float:
    """The rubric's timing part in [0, 1]: NOTE_TIMING_WEIGHT x note timing (onsets against the local
    pulse) + the rest x steadiness (the local pulse against the take's steady tempo)."""
    note_timing = float(np.mean([max(0.0, 1.0 - abs(d) / NOTE_TIMING_MS) for d in local_dev_ms]))
    steadiness = float(np.mean([max(0.0, 1.0 - abs(d) / DRIFT_MS) for d in drift_ms]))
    return NOTE_TIMING_WEIGHT * note_timing + (1.0 - NOTE_TIMING_WEIGHT) * steadiness


def onset_deviations(beats: Sequence[float], times_s: Sequence[float], window_beats: float = LOCAL_WINDOW_BEATS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per note (played notes, pause time already removed from `times_s`), in ms:

    - dev: the onset minus a steady player at the take's mean tempo (a least-squares line of onset
      against score beat over the whole take);
    - local_dev: the onset minus the local pulse, a line fitted to the other notes within
      `window_beats` beats (leaving the note out, so a single misplaced note cannot pull its own pulse);
      the whole-take line where fewer than 2 other notes or beats are in reach;
    - drift: the local pulse minus the whole-take line at the note (rushing and dragging).
    Rounded to 1 us, so a steady take has deviations of exactly 0.
    """
    b = np.asarray(beats, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    z = np.zeros(len(b))
    if len(b) < 2:
        return z, z.copy(), z.copy()
    slope, icpt = np.polyfit(b, t, 1)
    steady = slope * b + icpt
    local = steady.copy()
    for i in range(len(b)):
        near = np.abs(b - b[i]) <= window_beats
        near[i] = False
        if near.sum() >= 2 and np.ptp(b[near]) > 0:
            s_, c_ = np.polyfit(b[near], t[near], 1)
            local[i] = s_ * b[i] + c_
    ms = lambda x: np.round(x * 1000.0, 3)  # noqa: E731
    return ms(t - steady), ms(t - local), ms(local - steady)


# ----------------------------------------------------------------------------------------------------
# playing


def transpose_into_range(midi: Sequence[int], lo: int, hi: int) -> int:
    """Octave shift (semitones, a multiple of 12) that puts most notes of `midi` inside [lo, hi] (and
    all inside PLAYABLE if it can), ties broken toward the middle of the range."""
    m = np.asarray(midi)
    best, best_key = 0, (math.inf, math.inf, math.inf)
    for k in range(-5, 6):
        s = m + 12 * k
        key = (int(np.sum((s < PLAYABLE[0]) | (s > PLAYABLE[1]))), int(np.sum((s < lo) | (s > hi))),
               abs(float(np.mean(s)) - (lo + hi) / 2.0))
        if key < best_key:
            best, best_key = 12 * k, key
    return best


def make_score(melody: Melody, tempo_bpm: float, shift: int = 0) -> Score:
    """The melody (shifted by `shift` semitones) as a musicdesk Score at `tempo_bpm` quarters a minute."""
    spb = 60.0 / tempo_bpm
    bpm = melody.beats_per_measure
    notes = []
    for i, (m, on, d) in enumerate(zip(melody.midi, melody.onset_beats, melody.duration_beats)):
        pos = on + melody.offset_in_measure
        measure = int(math.floor(pos / bpm + 1e-6))
        notes.append(ScoreNote(f"n{i}", f"n{i}", i, m + shift, m + shift, on, d, on * spb, d * spb,
                               measure + 1, 1.0 + round(pos - measure * bpm, 6)))
    return Score(melody.id, ("student",), "student", tuple(notes), float(tempo_bpm),
                 max(n.offset_s for n in notes), source_path="")


def phrase_ends(melody: Melody) -> list[int]:
    """Indices of the notes that end a phrase (never the last note): a note followed by a rest of at
    least a sixteenth, a long note (at least PHRASE_END_BEATS and twice the median note) that ends on
    a bar line, or the note that ends on every fourth bar line (a four-bar phrase; dance tunes run on
    in even notes). This is where a player holds a fermata or takes a breath."""
    on = np.asarray(melody.onset_beats, dtype=np.float64)
    dur = np.asarray(melody.duration_beats, dtype=np.float64)
    if len(on) < 2:
        return []
    end = on + dur
    long_ = dur >= max(PHRASE_END_BEATS, 2.0 * float(np.median(dur))) - 1e-6
    bar = (end + melody.offset_in_measure) / melody.beats_per_measure
    on_bar = np.abs(bar - np.round(bar)) < 1e-3
    rest_after = on[1:] - end[:-1] >= 0.25 - 1e-6
    four_bars = on_bar & (np.round(bar).astype(int) % 4 == 0)
    return [i for i in range(len(on) - 1) if rest_after[i] or (on_bar[i] and (long_[i] or four_bars[i]))]


def _tempo_curve(rng: np.random.Generator, swing: float, sections: int) -> np.ndarray:
    """Relative tempo at `sections` + 1 evenly spaced anchors over the take: 1 at the start, the
    largest departure exactly +-swing."""
    values = np.concatenate([[0.0], rng.uniform(-1.0, 1.0, sections)])
    peak = float(np.max(np.abs(values)))
    if peak > 0:
        values /= peak
    return 1.0 + swing * values


def _beat_to_time(end_beats: float, spb: float, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A grid of beats and the performed time at each (s), under a tempo that moves between `anchors`
    (relative tempo at evenly spaced beats) along half-cosines."""
    beats = np.linspace(0.0, max(end_beats, 1e-3), max(64, int(end_beats * 48)) + 1)
    pos = beats / max(end_beats, 1e-3) * (len(anchors) - 1)
    k = np.minimum(np.floor(pos).astype(int), len(anchors) - 2)
    w = 0.5 - 0.5 * np.cos(np.pi * (pos - k))
    factor = anchors[k] * (1 - w) + anchors[k + 1] * w
    sec_per_beat = spb / factor
    times = np.concatenate([[0.0], np.cumsum(0.5 * (sec_per_beat[1:] + sec_per_beat[:-1]) * np.diff(beats))])
    return beats, times


def _poisson_positions(rng: np.random.Generator, rate_per_min: float, minutes: float, candidates: list[int],
                       spacing: int) -> list[int]:
    """Random note indices (from candidates, at least `spacing` apart), as many as a Poisson draw."""
    n = int(rng.poisson(rate_per_min * minutes)) if rate_per_min > 0 else 0
    chosen: list[int] = []
    for c in rng.permutation(candidates):
        if len(chosen) >= n:
            break
        if all(abs(int(c) - x) >= spacing for x in chosen):
            chosen.append(int(c))
    return sorted(chosen)


def _wrong_pitch(rng: np.random.Generator, midi: int) -> int:
    """A wrong note: a step (most often), a few semitones, or an octave off (inside PLAYABLE)."""
    r = rng.random()
    if r < 0.45:
        step = int(rng.choice([1, 2]))
    elif r < 0.85:
        step = int(rng.integers(3, 6))
    else:
        step = 12
    sign = int(rng.choice([-1, 1]))
    if not PLAYABLE[0] <= midi + sign * step <= PLAYABLE[1]:
        sign = -sign
    return midi + sign * step


@dataclass
class _Event:
    """One sounded (or deliberately silent) note of the performance, in performance order."""

    index: int          # score note index (-1: a stumble)
    counted: bool       # False: in a pass abandoned by a restart
    shift_s: float      # pause time accumulated before it (hesitations, restarts)
    midi: int = 0
    cents: float = 0.0
    sounded: bool = True
    onset_s: float = 0.0
    offset_s: float = 0.0
    nominal_s: float = 0.0  # performed length of its written value (s)
    hold_s: float = 0.0     # an expressive hold (fermata) sounds this much longer (s)


def play(melody: Melody, tempo_bpm: float, instrument_range: tuple[int, int], rng: np.random.Generator,
         params: StudentParams) -> tuple[Score, list[PerformedNote], ErrorLog]:
    """Play `melody` asked at `tempo_bpm` (quarters a minute) on an instrument whose comfortable
    sounding range is `instrument_range` (MIDI lo, hi).

    Returns the score the student was asked to play (transposed into the range, at tempo_bpm), the
    performed notes (monophonic, times in s from the start of the take) and the ErrorLog.
    """
    shift = transpose_into_range(melody.midi, *instrument_range)
    score = make_score(melody, tempo_bpm, shift)
    notes = score.notes
    n = len(notes)
    p = params
    spb = 60.0 / (tempo_bpm * p.tempo_factor)
    end_beats = max(nt.offset_beats for nt in notes)
    anchors = _tempo_curve(rng, p.tempo_swing, max(1, p.tempo_sections))
    grid_b, grid_t = _beat_to_time(end_beats, spb, anchors)

    def t_of(b: float) -> float:
        return float(np.interp(b, grid_b, grid_t))

    base_t = [t_of(nt.onset_beats) for nt in notes]
    len_t = [t_of(nt.offset_beats) - b for nt, b in zip(notes, base_t)]
    minutes = (grid_t[-1] + 1e-9) / 60.0

    # where the timing events happen
    restarts = _poisson_positions(rng, p.restarts_per_min, minutes, list(range(10, n - 2)), spacing=12)
    restart_back = {i: int(rng.integers(2, min(8, i) + 1)) for i in restarts}
    # expressive holds at phrase ends (not graded): the note sounds on through the hold, like a fermata,
    # so a hold is a long note, where a hesitation is a silence
    ends = set(phrase_ends(melody))
    holds: dict[int, float] = {}
    if p.p_phrase_hold > 0:
        for i in sorted(ends):
            if rng.random() < p.p_phrase_hold and (i + 1) not in restart_back:
                holds[i] = float(rng.uniform(*HOLD_S))
    # a pause between phrases is not a hesitation: hesitations come before notes that begin no phrase
    hes = _poisson_positions(rng, p.hesitations_per_min, minutes,
                             [i for i in range(1, n) if i not in restart_back and (i - 1) not in ends], spacing=3)

    # the sequence of events: score notes in order, with abandoned passes and replays
    events: list[_Event] = []
    shift_s = 0.0
    for i in range(n):
        if i in restart_back:
            k = restart_back[i]
            for ev in events[-k:]:
                ev.counted = False
            stumble = _Event(-1, False, shift_s, midi=_wrong_pitch(rng, notes[i].midi) if rng.random() < 0.5
                             else notes[i].midi, nominal_s=float(rng.uniform(0.1, 0.3)))
            stumble_at = base_t[i]
            events.append(stumble)
            shift_s += (base_t[i] - base_t[i - k]) + float(rng.uniform(0.4, 1.5))
            stumble.onset_s = stumble_at + stumble.shift_s  # before the shift of the replay
            for q in range(i - k, i):
                events.append(_Event(q, True, shift_s))
        if i in hes:
            shift_s += float(rng.uniform(0.3, 1.2))
        if (i - 1) in holds:
            shift_s += holds[i - 1]
            if events:
                events[-1].hold_s = holds[i - 1]
        events.append(_Event(i, True, shift_s))

    # pitch and tuning of every event
    for ev in events:
        if ev.index < 0:
            continue
        nt = notes[ev.index]
        ev.nominal_s = len_t[ev.index]
        ev.sounded = not (rng.random() < p.p_missed)
        ev.midi = _wrong_pitch(rng, nt.midi) if rng.random() < p.p_wrong else nt.midi
    for ev in events:
        t_min = (base_t[ev.index] if ev.index >= 0 else 0.0) / 60.0
        c = p.offset_cents + p.drift_cents_per_min * t_min + rng.normal(0.0, 1.0) * p.detune_sd_cents
        if rng.random() < p.p_bad_tuning:
            c += float(rng.uniform(30.0, 60.0)) * float(rng.choice([-1.0, 1.0]))
        ev.cents = float(np.clip(c, -MAX_CENTS, MAX_CENTS))

    # onset times with jitter, kept in order
    for ev in events:
        if ev.index >= 0:
            ev.onset_s = base_t[ev.index] + ev.shift_s
    ideal = [ev.onset_s for ev in events]
    for j, ev in enumerate(events):
        jit = rng.normal(0.0, p.jitter_sd_ms / 1000.0) if p.jitter_sd_ms > 0 else 0.0
        reach = 0.35    # the furthest a note moves, as a share of the gap to its neighbour's onset
        if p.p_misplaced > 0 and ev.index >= 0 and rng.random() < p.p_misplaced:
            jit += float(rng.uniform(*MISPLACED_S)) * float(rng.choice([-1.0, 1.0]))
            reach = 0.6
        lo = -reach * (ideal[j] - ideal[j - 1]) if j > 0 else -math.inf
        hi = reach * (ideal[j + 1] - ideal[j]) if j + 1 < len(events) else math.inf
        ev.onset_s = ideal[j] + float(np.clip(jit, lo, hi)) + p.lead_s
    for j in range(1, len(events)):
        events[j].onset_s = max(events[j].onset_s, events[j - 1].onset_s + MIN_NOTE_S + GAP_S)
    for j, ev in enumerate(events):
        end = ev.onset_s + (p.articulation * ev.nominal_s + ev.hold_s if ev.index >= 0 else ev.nominal_s)
        if j + 1 < len(events):
            end = min(end, events[j + 1].onset_s - GAP_S)
        ev.offset_s = max(end, ev.onset_s + MIN_NOTE_S)

    # performed notes; extra notes slip in at the end of a counted note
    performed: list[PerformedNote] = []
    extra: list[tuple[float, float, int]] = []
    abandoned = 0
    for ev in events:
        if not ev.sounded and ev.index >= 0:
            continue
        vel = int(np.clip(round(p.velocity + rng.normal(0.0, 6.0)), 30, 127))
        on, off = ev.onset_s, ev.offset_s
        if ev.counted and ev.index >= 0 and rng.random() < p.p_extra:
            dx = float(rng.uniform(0.06, 0.15))
            if off - on >= dx + MIN_NOTE_S + GAP_S + 0.05:
                step = int(rng.choice([-3, -2, -1, 1, 2, 3]))
                x_midi = ev.midi + (step if PLAYABLE[0] <= ev.midi + step <= PLAYABLE[1] else -step)
                performed.append(PerformedNote(on, off - dx - GAP_S, ev.midi, ev.cents, vel))
                performed.append(PerformedNote(off - dx, off, x_midi, ev.cents, vel))
                extra.append((off - dx, off, x_midi))
                continue
        if not ev.counted:
            abandoned += 1
        performed.append(PerformedNote(on, off, ev.midi, ev.cents, vel))

    # the log: counted events, onset deviations from the take's own steady tempo (pauses removed)
    counted = {ev.index: ev for ev in events if ev.counted and ev.index >= 0}
    assert sorted(counted) == list(range(n))
    played = [i for i in range(n) if counted[i].sounded]
    tempo_fit = tempo_bpm * p.tempo_factor
    b = np.array([notes[i].onset_beats for i in played])
    t = np.array([counted[i].onset_s - counted[i].shift_s for i in played])
    devs = dict(zip(played, zip(*(map(float, x) for x in onset_deviations(b, t)))))
    if len(played) >= 2:
        slope = np.polyfit(b, t, 1)[0]
        tempo_fit = 60.0 / slope if slope > 0 else tempo_fit
    log_notes = []
    for i in range(n):
        ev = counted[i]
        if ev.sounded:
            log_notes.append(NoteLog(i, notes[i].midi, True, ev.midi, ev.cents, ev.onset_s, *devs[i]))
        else:
            log_notes.append(NoteLog(i, notes[i].midi, False))
    log = ErrorLog(tuple(log_notes), n_extra=len(extra), n_hesitations=len(hes), n_holds=len(holds), n_restarts=len(restarts),
                   n_abandoned=abandoned, played_tempo_bpm=float(tempo_fit), extra=tuple(extra))
    return score, performed, log
