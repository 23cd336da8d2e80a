"""A simulated ensemble playing a whole Bach chorale, each part on its own instrument: the design data of
the mixture aligner and the training data of the separation network (issue 20), never the evaluation
recordings.

What four players reading one chorale do together, and what the aligner must follow:
- one shared pulse: a tempo of their own (0.85-1.15 x the marking) that drifts smoothly, ritardandi into
  the fermatas, the fermata held and a breath before the next phrase (training/chorale_player.py's
  professional, with the same constants), the same for every part;
- each player's onsets scattered around that pulse by their own JITTER_MS (sd): players recorded apart
  (as in Bach10) or sitting apart do not attack together;
- a tuning offset per player (up to +-DETUNE_CENTS), a dynamic level per player and per note.

The chorales are music21's Bach chorales minus the ten of Bach10, checked by BWV number and by melody
(training/chorale_player.load_chorale_parts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from musicdesk.synth import PerformedNote, render_notes
from training.chorale_player import (BREATH_S, DRIFT, HOLD_S, RIT_BEATS, RIT_MAX, TEMPO_FACTOR, ChoralePart,
                                     load_chorale_parts)

JITTER_MS = (5.0, 25.0)   # each player's onset scatter around the shared pulse (sd), drawn per player
DETUNE_CENTS = 15.0       # each player's tuning offset, uniform in +-this
# General MIDI programs per voice (soprano, alto, tenor, bass): strings, woodwinds, brass, saxophones, voice
POOLS = (
    (40, 73, 68, 71, 56, 64, 52),      # violin, flute, oboe, clarinet, trumpet, soprano sax, choir aahs
    (40, 41, 71, 68, 65, 69, 52),      # violin, viola, clarinet, oboe, alto sax, english horn, choir
    (41, 42, 66, 71, 60, 57, 53),      # viola, cello, tenor sax, clarinet, horn, trombone, voice oohs
    (42, 43, 70, 67, 58, 57, 32),      # cello, contrabass, bassoon, baritone sax, tuba, trombone, bass
)
BACH10_PROGRAMS = (40, 71, 66, 70)  # violin, clarinet, tenor sax, bassoon: the line-up of the evaluation set


@dataclass(frozen=True)
class EnsembleTake:
    name: str                                       # e.g. "bwv398"
    parts: tuple[ChoralePart, ...]                  # the score, one per voice
    notes: tuple[tuple[PerformedNote, ...], ...]    # as played, one list per part, in score order
    programs: tuple[int, ...]                       # General MIDI program per part


def chorales(n_chorales: int, seed: int = 0) -> list[tuple[ChoralePart, ...]]:
    """`n_chorales` four-part chorales (Bach10's left out), each as its four parts in score order."""
    parts = load_chorale_parts(n_chorales, seed)
    out: dict[str, list[ChoralePart]] = {}
    for p in parts:
        out.setdefault(p.name.split("/")[0], []).append(p)
    return [tuple(v) for v in out.values() if len(v) == 4]


def perform_ensemble(parts: Sequence[ChoralePart], rng: np.random.Generator, lead_s: float = 1.0,
                     programs: Sequence[int] | None = None) -> EnsembleTake:
    """One take of the whole chorale: the shared pulse, then each player's own scatter, tuning and level."""
    ends_b = [float(p.notes[-1][0] + p.notes[-1][1]) for p in parts]
    end_b = max(ends_b)
    spb = 60.0 / (parts[0].tempo_bpm * rng.uniform(*TEMPO_FACTOR))
    grid = np.linspace(0.0, end_b, int(end_b * 48) + 2)
    anchors = 1.0 + DRIFT * rng.uniform(-1, 1, 4)
    drift = np.interp(grid, np.linspace(0, end_b, 4), anchors)
    slow = np.ones_like(grid)
    # fermata ends (beats), from any part; the last one ends the piece
    ferm_end = sorted({round(n[0] + n[1], 3) for p in parts for n in p.notes if n[3]} - {round(end_b, 3)})
    holds = []
    for fb in ferm_end:
        r = rng.uniform(0.0, RIT_MAX)
        a = fb - RIT_BEATS - 1.0
        inside = (grid >= a) & (grid <= fb)
        slow[inside] = np.maximum(slow[inside], 1.0 + r * np.clip((grid[inside] - a) / (fb - a), 0, 1))
        holds.append((fb, rng.uniform(*HOLD_S), rng.uniform(*BREATH_S)))
    sec = np.concatenate([[0.0], np.cumsum(np.diff(grid) * spb * drift[1:] * slow[1:])])

    def at(beats: np.ndarray, ends: bool = False) -> np.ndarray:
        """Seconds of beat positions: each fermata adds its hold and breath after it; a note that ends
        on the fermata sounds through the hold (`ends`)."""
        t = np.interp(beats, grid, sec) + lead_s
        for fb, h, br in holds:
            on_it = np.abs(beats - fb) < 1e-6
            t = t + np.where(beats > fb + 1e-6, h + br, 0.0) + np.where(on_it, h if ends else h + br, 0.0)
        return t

    programs = tuple(programs) if programs is not None else tuple(int(rng.choice(pool)) for pool in POOLS[:len(parts)])
    out = []
    for k, part in enumerate(parts):
        on_b = np.array([n[0] for n in part.notes])
        dur_b = np.array([n[1] for n in part.notes])
        jit = rng.uniform(*JITTER_MS) / 1000.0
        cents = rng.uniform(-DETUNE_CENTS, DETUNE_CENTS)
        level = rng.uniform(70, 105)
        t_on = at(on_b) + rng.normal(0.0, jit, len(on_b))
        t_off = at(on_b + dur_b, ends=True)
        for j in range(1, len(t_on)):
            t_on[j] = max(t_on[j], t_on[j - 1] + 0.06)
        notes = []
        for j in range(len(t_on)):
            end = t_off[j] if j == len(t_on) - 1 else min(t_off[j] - 0.03 * spb * dur_b[j], t_on[j + 1] - 0.01)
            notes.append(PerformedNote(float(t_on[j]), float(max(end, t_on[j] + 0.05)), int(part.notes[j][2]),
                                       float(cents + rng.normal(0, 3)), int(np.clip(rng.normal(level, 8), 40, 127))))
        out.append(tuple(notes))
    return EnsembleTake(parts[0].name.split("/")[0], tuple(parts), tuple(out), programs)


def render_ensemble(take: EnsembleTake, sr: int, soundfont: str | None = None,
                    gains_db: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mixture (n,), stems (parts, n)) float32: each part rendered on its own program, scaled by
    `gains_db` (0 dB: each stem at peak 0.5 before mixing), the mixture their exact sum."""
    stems = [render_notes(notes, prog, sr=sr, soundfont=soundfont).samples
             for notes, prog in zip(take.notes, take.programs)]
    n = max(len(s) for s in stems)
    S = np.zeros((len(stems), n), np.float32)
    for k, s in enumerate(stems):
        g = 10 ** ((gains_db[k] if gains_db is not None else 0.0) / 20)
        S[k, :len(s)] = g * s
    peak = float(np.abs(S.sum(axis=0)).max()) or 1.0
    S *= 0.9 / peak if peak > 0.9 else 1.0
    return S.sum(axis=0), S
