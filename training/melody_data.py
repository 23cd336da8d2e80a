"""Training data of the melody lab's models: folk-tune measures as tick tokens, and the dMelodies set.

    python -m training.melody_data folk [--max-per-source 3000] [--out training/cache/melody/folk.npz]
    python -m training.melody_data dmelodies [--out training/cache/melody/dmelodies.npz]

**Folk measures**: music21's ABC corpora (Essen, Ryan's Mammoth, O'Neill's 1850) through
training.melodies (one part, ties merged, top note of chords; cached), each tune as written (repeats
not expanded). A tune is kept if its meter is at most 4 quarter beats a measure (2/4, 3/4, 4/4, 2/2,
6/8, 3/8, ...) and every onset and end falls on the tick grid (musicdesk.melody.tokens); it is split
into measures (a pickup is measure 0). Splits by tune (training.melodies.split_of: 80/10/10).
Tune type, the high-level quality of the presets, comes from the ABC `R:` field by a fixed rule:
'reel' -> reel, 'hornpipe' -> hornpipe, 'jig' or 'double jig' -> jig; every other tune (all of Essen,
the airs, strathspeys, slip jigs, ...) is unlabelled.

**dMelodies** (Pati, Gururani & Lerch 2020): every combination of 9 factors, 1,354,752 two-bar 4/4
melodies: tonic (12), octave (3), scale (major, harmonic minor, blues), the rhythm of each bar (6
eighth-note onsets among 8 places: 28 each), and the direction (up, down) of the arpeggio of each of
the 4 chords I-IV-V-I. Every note is an eighth. Octaves 3-5 here (the original's 4-6, an octave
lower, so that every note is in the models' range); the factor keeps its three values.

Arrays (.npz): tokens int16 (N, 24) or (N, 48) for dMelodies' two bars; per row measure_beats,
tune (index), measure, split (0 train, 1 val, 2 test), tune_type (-1 unlabelled, else TUNE_TYPES index);
dMelodies: factors int16 (N, 9) in DMELODIES_FACTORS order.
"""
from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from pathlib import Path

import numpy as np

from musicdesk.melody.tokens import Melody, MelodyError, Note, encode, measure_ticks_for, tick_beats, tick_of

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "training" / "cache" / "melody"
TUNE_TYPES = ("reel", "jig", "hornpipe")
_RHYTHM_FIELD = {"reel": 0, "jig": 1, "double jig": 1, "hornpipe": 2}
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


def tune_type(abc_text: str) -> int:
    """TUNE_TYPES index from the tune's R: field, -1 when it names none of them."""
    m = re.search(r"(?m)^R:\s*(.*?)\s*$", abc_text)
    return _RHYTHM_FIELD.get(m.group(1).lower(), -1) if m else -1


def _on_grid(beats: float) -> bool:
    return abs(tick_beats(tick_of(beats)) - beats) < 1e-3 if beats >= 0 else False


def to_lab_melody(m) -> Melody | None:
    """A training.melodies.Melody as a musicdesk melody (pickup in measure 0), None if its meter is
    longer than 4 quarter beats or a note falls off the tick grid."""
    bar = float(m.beats_per_measure)
    try:
        measure_ticks_for(bar)
    except MelodyError:
        return None
    pad = float(m.offset_in_measure)
    notes = [Note(int(p), round(o + pad, 6), round(d, 6)) for p, o, d in zip(m.midi, m.onset_beats, m.duration_beats)]
    for n in notes:
        if not (_on_grid(n.onset_beats % bar) and _on_grid(n.offset_beats % bar if n.offset_beats % bar > 1e-6 else 0.0)):
            return None
    end = max(n.offset_beats for n in notes)
    return Melody(tuple(notes), bar, int(np.ceil(end / bar - 1e-6)))


def folk_measures(max_per_source: int | None = 3000, seed: int = 0, progress=print) -> dict[str, np.ndarray]:
    """Every measure of the usable folk tunes (see the module docstring)."""
    from training.melodies import SOURCES, list_tunes, load_melodies, split_of

    texts = {tid: text for src in SOURCES for tid, text in list_tunes(src)}
    mels = load_melodies(max_per_source, seed, progress=progress)
    rows, beats, tune, measure, split, ttype, ids = [], [], [], [], [], [], []
    kept = skipped = 0
    for m in mels:
        lab = to_lab_melody(m)
        if lab is None:
            skipped += 1
            continue
        try:
            t = encode(lab)
        except MelodyError:
            skipped += 1
            continue
        rows.append(t)
        n = len(t)
        beats += [lab.measure_beats] * n
        tune += [kept] * n
        measure += list(range(n))
        split += [SPLIT_CODES[split_of(m.id)]] * n
        ttype += [tune_type(texts.get(m.id, ""))] * n
        ids.append(m.id)
        kept += 1
    progress(f"{kept} tunes kept, {skipped} skipped (meter over 4 beats or notes off the grid)")
    return {"tokens": np.concatenate(rows).astype(np.int16), "measure_beats": np.array(beats, np.float32),
            "tune": np.array(tune, np.int32), "measure": np.array(measure, np.int32),
            "split": np.array(split, np.int8), "tune_type": np.array(ttype, np.int8),
            "tune_ids": np.array(ids)}


# ----------------------------------------------------------------------------------------------------
# dMelodies

DMELODIES_FACTORS = ("tonic", "octave", "scale", "rhythm_bar1", "rhythm_bar2",
                     "arp_chord1", "arp_chord2", "arp_chord3", "arp_chord4")
DM_OCTAVES = (3, 4, 5)
DM_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11, 12, 14), "minor": (0, 2, 3, 5, 7, 8, 11, 12, 14),
             "blues": (0, 2, 3, 5, 6, 9, 10, 12, 14)}
DM_CHORDS = ((0, 2, 4), (3, 5, 7), (4, 6, 8), (0, 2, 4))     # I, IV, V, I as scale-degree indices
DM_RHYTHMS = tuple(tuple(int(i in c) for i in range(8)) for c in itertools.combinations(range(8), 6))
DM_SIZES = (12, len(DM_OCTAVES), len(DM_SCALES), len(DM_RHYTHMS), len(DM_RHYTHMS), 2, 2, 2, 2)


def dmelody(factors) -> Melody:
    """One dMelodies melody (two 4/4 bars of eighths) from its 9 factor indices."""
    tonic, octave, scale, r1, r2, *arps = (int(f) for f in factors)
    root = 12 * (DM_OCTAVES[octave] + 1) + tonic
    steps = list(DM_SCALES)[scale]
    pitches = []
    for chord, down in zip(DM_CHORDS, arps):
        for s in (chord[::-1] if down else chord):
            pitches.append(root + DM_SCALES[steps][s])
    notes, k = [], 0
    for bar, rhythm in enumerate((DM_RHYTHMS[r1], DM_RHYTHMS[r2])):
        for pos, on in enumerate(rhythm):
            if on:
                notes.append(Note(pitches[k], bar * 4 + pos * 0.5, 0.5))
                k += 1
    return Melody(tuple(notes), 4.0, 2)


def dmelodies_tokens(factors: np.ndarray) -> np.ndarray:
    """(N, 48) tokens of the melodies of `factors` (N, 9): both bars in one row, as
    `encode(dmelody(f))` gives them (a test holds the two equal), computed for all rows at once."""
    from musicdesk.melody.tokens import FIRST_PITCH, HIGHEST_MIDI, HOLD, LOWEST_MIDI, REST

    f = np.asarray(factors, dtype=np.int64)
    n = len(f)
    rhythms = np.array(DM_RHYTHMS)
    onset = np.concatenate([rhythms[f[:, 3]], rhythms[f[:, 4]]], axis=1).astype(bool)    # (N, 16) eighths
    scales = np.array(list(DM_SCALES.values()))                                          # (3, 9)
    roots = 12 * (np.array(DM_OCTAVES)[f[:, 1]] + 1) + f[:, 0]
    degrees = np.array([[c[::-1] if d else c for c, d in zip(DM_CHORDS, dirs)] for dirs in
                        itertools.product((0, 1), repeat=4)]).reshape(16, 12)            # by the 4 directions
    arp = f[:, 5] * 8 + f[:, 6] * 4 + f[:, 7] * 2 + f[:, 8]
    pitch = roots[:, None] + scales[f[:, 2][:, None], degrees[arp]]                        # (N, 12)
    tok = np.full((n, 48), HOLD, dtype=np.int64)
    k = np.cumsum(onset, axis=1) - 1                                                     # note index per slot
    assert pitch.min() >= LOWEST_MIDI and pitch.max() <= HIGHEST_MIDI
    note_tok = FIRST_PITCH - LOWEST_MIDI + np.take_along_axis(pitch, np.clip(k, 0, 11), axis=1)
    prev_note = np.concatenate([np.zeros((n, 1), bool), onset[:, :-1]], axis=1)
    bar_start = np.zeros(16, bool)
    bar_start[[0, 8]] = True
    rest_tok = np.where(prev_note | bar_start[None, :], REST, HOLD)
    tok[:, 0::3] = np.where(onset, note_tok, rest_tok)
    return tok.astype(np.int16)


def dmelodies_factors_of(tokens: np.ndarray) -> np.ndarray:
    """The 9 factors (N, 9) read back from (N, 48) token rows, e.g. decoded ones: -1 where the row is not
    a dMelodies melody in that respect (a bar whose onsets are not one of the rhythms, or off the eighth
    grid; pitches that are no tonic/octave/scale/arpeggio combination, or not 12 notes)."""
    from musicdesk.melody.tokens import FIRST_PITCH, HOLD

    tok = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
    n = len(tok)
    out = np.full((n, 9), -1, dtype=np.int64)
    rhythm_index = {r: i for i, r in enumerate(DM_RHYTHMS)}
    slots = tok[:, 0::3] >= FIRST_PITCH                                 # (N, 16) onsets on the eighths
    off_grid = np.ones(48, bool)
    off_grid[0::3] = False
    for bar in range(2):
        cols = slice(bar * 24, (bar + 1) * 24)
        clean = np.all(tok[:, cols][:, off_grid[cols]] == HOLD, axis=1)
        for i in range(n):
            r = rhythm_index.get(tuple(int(x) for x in slots[i, bar * 8:(bar + 1) * 8]), -1)
            out[i, 3 + bar] = r if clean[i] else -1
    combos = np.array(list(itertools.product(range(12), range(3), range(3), (0,), (0,), *[(0, 1)] * 4)))
    pitch_rows = dmelodies_tokens(combos)                                  # rhythms fixed: only the pitches matter
    table = {tuple(int(x) for x in r[r >= FIRST_PITCH]): f for r, f in zip(pitch_rows, combos)}
    for i in range(n):
        f = table.get(tuple(int(x) for x in tok[i][tok[i] >= FIRST_PITCH]))
        if f is not None:
            out[i, [0, 1, 2, 5, 6, 7, 8]] = [f[0], f[1], f[2], *f[5:]]
    return out


def all_dmelodies_factors() -> np.ndarray:
    """(1,354,752, 9) every factor combination, in the order of itertools.product."""
    grids = np.meshgrid(*[np.arange(s) for s in DM_SIZES], indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int16)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.melody_data", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("folk")
    f.add_argument("--max-per-source", type=int, default=3000)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", default=str(CACHE / "folk.npz"))
    d = sub.add_parser("dmelodies")
    d.add_argument("--out", default=str(CACHE / "dmelodies.npz"))
    d.add_argument("--limit", type=int, default=None, help="a random subset of this many melodies")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if a.cmd == "folk":
        data = folk_measures(a.max_per_source, a.seed)
        np.savez_compressed(out, **data)
        n = len(data["tokens"])
        print(f"{n} measures of {data['tune'].max() + 1} tunes: "
              + ", ".join(f"{s} {int(np.sum(data['split'] == c))}" for s, c in SPLIT_CODES.items())
              + "; tune types " + ", ".join(f"{t} {int(np.sum(data['tune_type'] == i))}" for i, t in enumerate(TUNE_TYPES))
              + f"; {time.perf_counter() - t0:.0f} s -> {out}")
    else:
        fac = all_dmelodies_factors()
        if a.limit:
            fac = fac[np.sort(np.random.default_rng(0).choice(len(fac), a.limit, replace=False))]
        tok = dmelodies_tokens(fac)
        split = np.random.default_rng(1).choice(3, len(fac), p=[0.7, 0.2, 0.1]).astype(np.int8)
        np.savez_compressed(out, tokens=tok, factors=fac, split=split)
        print(f"{len(tok)} dMelodies ({time.perf_counter() - t0:.0f} s) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
