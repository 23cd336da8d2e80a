"""A simulated professional playing one part of a Bach chorale: the design data of the report's timing
rule (training/timing_design.py, benchmarks/bench_timing.py), never the evaluation recordings.

What a professional does in a chorale, and what the report must not call early or late:
- a tempo of their own (0.85-1.15 x the marking) that drifts smoothly (up to +-8 %);
- a ritardando into each fermata (the last RIT_BEATS before it up to RIT_MAX slower);
- the fermata held HOLD_S longer than written, then a breath (BREATH_S of silence) before the next
  phrase;
- onsets scattered around that pulse by JITTER_MS (sd).
Optionally, a few notes moved: the damage the report must find (a note MOVE_S early or late, its
neighbours where they were).

The scores are music21's Bach chorales, minus the ten of Bach10 (benchmarks use those recordings): by
BWV number, and by melody against the Bach10 MIDI scores we have.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicdesk.score import Score, ScoreNote
from musicdesk.synth import PerformedNote

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "training" / "cache" / "chorales.json"
# Bach10's ten chorales (Duan & Pardo) by BWV: 255, 256, 274, 275, 296, 297, 326, 327, 363, 385; the
# same tunes are harmonised elsewhere too, so melodies are also compared with the Bach10 scores.
BACH10_BWV = {"255", "256", "274", "275", "296", "297", "326", "327", "363", "385"}
BACH10_DIR = ROOT.parent / "shared" / "data" / "bach10"

TEMPO_FACTOR = (0.85, 1.15)
DRIFT = 0.08          # largest smooth tempo change over the take (relative)
RIT_BEATS = 2.0       # a ritardando into a fermata spans this many beats before it ...
RIT_MAX = 0.25        # ... and slows the tempo by up to this much at the fermata
HOLD_S = (0.3, 1.5)   # a fermata sounds this much longer than written
BREATH_S = (0.05, 0.4)  # silence after a fermata, before the next phrase
JITTER_MS = 15.0      # onset scatter around the pulse (sd)
MOVE_S = 0.12         # a moved note comes this much early or late


@dataclass(frozen=True)
class ChoralePart:
    name: str                                   # e.g. "bwv398/part0"
    notes: tuple[tuple[float, float, int, bool], ...]   # (onset beats, duration beats, MIDI, fermata)
    tempo_bpm: float


def _bwv(path: str) -> str:
    base = os.path.basename(path).lower().replace("bwv", "").split(".")[0]
    return base


def _intervals(midi: list[int], k: int = 12) -> tuple[int, ...]:
    return tuple(int(b - a) for a, b in zip(midi[:k], midi[1:k + 1]))


def _bach10_melodies() -> set[tuple[int, ...]]:
    """Interval openings of every part of the Bach10 scores that are here (to leave their tunes out)."""
    out: set[tuple[int, ...]] = set()
    if not BACH10_DIR.is_dir():
        return out
    import pretty_midi

    for mid in sorted(BACH10_DIR.glob("*/*.mid")):
        pm = pretty_midi.PrettyMIDI(str(mid))
        for inst in pm.instruments:
            out.add(_intervals([n.pitch for n in sorted(inst.notes, key=lambda n: n.start)]))
    return out


def load_chorale_parts(n_chorales: int = 40, seed: int = 0) -> list[ChoralePart]:
    """All four parts of `n_chorales` music21 Bach chorales (shuffled by `seed`), Bach10's left out.
    Cached in training/cache/chorales.json (parsing costs about 0.3 s a chorale)."""
    key = f"{n_chorales}-{seed}"
    if CACHE.is_file():
        cached = json.loads(CACHE.read_text())
        if key in cached:
            return [ChoralePart(p["name"], tuple(tuple(n) for n in p["notes"]), p["tempo_bpm"]) for p in cached[key]]
    else:
        cached = {}
    from music21 import corpus, expressions

    paths = sorted(str(p) for p in corpus.getComposer("bach"))
    np.random.default_rng(seed).shuffle(paths)
    banned = _bach10_melodies()
    out: list[ChoralePart] = []
    n_done = 0
    for path in paths:
        if n_done >= n_chorales:
            break
        if _bwv(path).split(".")[0] in BACH10_BWV:
            continue
        try:
            s = corpus.parse(path)
        except Exception:  # noqa: BLE001 - a corpus file music21 cannot read: skip it
            continue
        if len(s.parts) != 4:
            continue
        parts = []
        for part in s.parts:
            notes: list[list] = []
            for n in part.flatten().notes:
                if n.isChord:
                    n = n.notes[-1]
                ferm = any(isinstance(e, expressions.Fermata) for e in n.expressions)
                if n.tie is not None and n.tie.type in ("stop", "continue") and notes:
                    notes[-1][1] += float(n.quarterLength)
                    notes[-1][3] = notes[-1][3] or ferm
                    continue
                notes.append([float(n.getOffsetInHierarchy(s)), float(n.quarterLength), int(n.pitch.midi), ferm])
            parts.append(notes)
        if any(_intervals([n[2] for n in p]) in banned for p in parts) or min(len(p) for p in parts) < 16:
            continue
        # fermatas are written in some parts only: a fermata in any part marks every part's note there
        ferm_beats = {round(n[0] + n[1], 3) for p in parts for n in p if n[3]}
        for k, p in enumerate(parts):
            for n in p:
                n[3] = n[3] or round(n[0] + n[1], 3) in ferm_beats
            out.append(ChoralePart(f"{_bwv(path)}/part{k}", tuple(tuple(n) for n in p),
                                   float(np.random.default_rng([seed, n_done]).uniform(60, 84))))
        n_done += 1
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    cached[key] = [{"name": p.name, "notes": [list(n) for n in p.notes], "tempo_bpm": p.tempo_bpm} for p in out]
    CACHE.write_text(json.dumps(cached))
    return out


def to_score(part: ChoralePart, shift: int = 0, with_fermatas: bool = True) -> Score:
    """The part as a musicdesk Score at its tempo (fermatas kept, or dropped as a MIDI file would)."""
    spb = 60.0 / part.tempo_bpm
    notes = []
    for i, (on, dur, midi, ferm) in enumerate(part.notes):
        measure = int(on // 4)
        notes.append(ScoreNote(f"n{i}", f"n{i}", i, midi + shift, midi + shift, on, dur, on * spb, dur * spb,
                               measure + 1, 1.0 + on - 4 * measure, fermata=bool(ferm and with_fermatas)))
    return Score(part.name, ("part",), "part", tuple(notes), part.tempo_bpm, max(n.offset_s for n in notes))


@dataclass(frozen=True)
class Performance:
    notes: tuple[PerformedNote, ...]     # one per score note, in score order
    moved: tuple[int, ...]               # indices of the moved notes
    moved_s: tuple[float, ...]           # how far each was moved (+ late)


def perform(part: ChoralePart, rng: np.random.Generator, n_moved: int = 0, move_sign: int | None = None,
            jitter_ms: float = JITTER_MS, lead_s: float = 1.0) -> Performance:
    """A professional's take of `part` (see the module docstring), optionally with `n_moved` notes moved
    MOVE_S (late, early, or either when `move_sign` is None); moved notes are not adjacent, not first or
    last, and leave at least 0.1 s to their neighbours."""
    on_b = np.array([n[0] for n in part.notes])
    dur_b = np.array([n[1] for n in part.notes])
    ferm = np.array([n[3] for n in part.notes], dtype=bool)
    ferm[-1] = False
    n = len(on_b)
    spb = 60.0 / (part.tempo_bpm * rng.uniform(*TEMPO_FACTOR))
    end_b = float(on_b[-1] + dur_b[-1])
    # seconds per beat along a fine grid: smooth drift, ritardandi into the fermatas
    grid = np.linspace(0.0, end_b, int(end_b * 48) + 2)
    anchors = 1.0 + DRIFT * rng.uniform(-1, 1, 4)
    drift = np.interp(grid, np.linspace(0, end_b, 4), anchors)
    slow = np.ones_like(grid)
    for i in np.flatnonzero(ferm):
        r = rng.uniform(0.0, RIT_MAX)
        a, b = on_b[i] - RIT_BEATS, on_b[i]
        inside = (grid >= a) & (grid <= on_b[i] + dur_b[i])
        slow[inside] = np.maximum(slow[inside], 1.0 + r * np.clip((grid[inside] - a) / (b - a), 0, 1))
    sec = np.concatenate([[0.0], np.cumsum(np.diff(grid) * spb * drift[1:] * slow[1:])])
    t_on = np.interp(on_b, grid, sec)
    t_off = np.interp(on_b + dur_b, grid, sec)
    # holds and breaths shift everything after each fermata
    shift = np.zeros(n)
    extra_sound = np.zeros(n)
    for i in np.flatnonzero(ferm):
        h, br = rng.uniform(*HOLD_S), rng.uniform(*BREATH_S)
        extra_sound[i] = h
        shift[i + 1:] += h + br
    t_on = t_on + shift + lead_s + rng.normal(0.0, jitter_ms / 1000.0, n)
    t_off = t_off + shift + lead_s + extra_sound
    for j in range(1, n):
        t_on[j] = max(t_on[j], t_on[j - 1] + 0.06)
    moved: list[int] = []
    amounts: list[float] = []
    if n_moved:
        cand = [i for i in range(1, n - 1) if t_on[i] - t_on[i - 1] >= MOVE_S + 0.1 and t_on[i + 1] - t_on[i] >= MOVE_S + 0.1]
        rng.shuffle(cand)
        for i in cand:
            if len(moved) >= n_moved:
                break
            if all(abs(i - j) > 1 for j in moved):
                moved.append(i)
        for i in sorted(moved):
            d = MOVE_S * (move_sign if move_sign else float(rng.choice([-1.0, 1.0])))
            t_on[i] += d
            amounts.append(d)
        moved.sort()
    perf = []
    for j in range(n):
        end = t_off[j] if j == n - 1 else min(t_off[j] - 0.03 * spb * dur_b[j], t_on[j + 1] - 0.01)
        perf.append(PerformedNote(float(t_on[j]), float(max(end, t_on[j] + 0.05)), int(part.notes[j][2]), 0.0,
                                  int(np.clip(rng.normal(85, 8), 50, 120))))
    return Performance(tuple(perf), tuple(moved), tuple(amounts))
