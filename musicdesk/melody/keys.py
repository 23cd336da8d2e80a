"""A melody's key, and which notes of a decoded measure lie outside it.

The key is found from the melody itself: the duration-weighted pitch-class histogram against the
Krumhansl-Kessler key profiles (24 keys), so a tune read from MIDI (no key signature) gets one too.
The notes a varied or inpainted measure may use are that key's scale (major; minor with its raised
sixth and seventh, as minor tunes use them) and every pitch class the tune itself already uses, so a
tune's own chromatic notes stay allowed. No torch here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdesk.melody.tokens import FIRST_PITCH, LOWEST_MIDI, Melody

# Krumhansl & Kessler (1982) probe-tone profiles, from the tonic up
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 9, 10, 11)      # natural minor with the raised sixth and seventh
PC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Key:
    tonic_pc: int           # 0 = C
    mode: str               # "major" | "minor"
    scale: frozenset        # its pitch classes

    @property
    def name(self) -> str:
        return f"{PC_NAMES[self.tonic_pc]} {self.mode}"


def key_of(melody: Melody) -> Key:
    """The best-fitting of the 24 major and minor keys (duration-weighted pitch classes)."""
    hist = np.zeros(12)
    for n in melody.notes:
        hist[n.midi % 12] += n.duration_beats
    if not hist.any():
        return Key(0, "major", frozenset(MAJOR_STEPS))
    best = (-np.inf, 0, "major")
    for mode, prof in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(hist, np.roll(prof, tonic))[0, 1])
            if r > best[0]:
                best = (r, tonic, mode)
    _, tonic, mode = best
    steps = MAJOR_STEPS if mode == "major" else MINOR_STEPS
    return Key(tonic, mode, frozenset((tonic + s) % 12 for s in steps))


def allowed_pitch_classes(melody: Melody) -> frozenset:
    """The pitch classes a varied or inpainted measure of this melody may use: its key's scale and
    every pitch class the melody already has."""
    return key_of(melody).scale | frozenset(n.midi % 12 for n in melody.notes)


def out_of_key_counts(rows: np.ndarray, allowed: frozenset) -> np.ndarray:
    """Per token row (..., 24), how many of its notes (pitch tokens) are outside `allowed`."""
    rows = np.asarray(rows)
    is_pitch = rows >= FIRST_PITCH
    pcs = (LOWEST_MIDI + rows - FIRST_PITCH) % 12
    bad = is_pitch & ~np.isin(pcs, sorted(allowed))
    return bad.sum(axis=-1)


def out_of_key_share(melody: Melody, allowed: frozenset, measures=None) -> float:
    """The share of the melody's notes (of `measures`, 0-based, when given) outside `allowed`."""
    notes = [n for m in measures for n in melody.notes_in(m)] if measures is not None else list(melody.notes)
    return sum(n.midi % 12 not in allowed for n in notes) / len(notes) if notes else 0.0


def spell(midi: int, fifths: int, key: Key | None = None) -> str:
    """A pitch's name in the key signature `fifths` (musicdesk.score.spell_midi); in a minor key its
    raised sixth and seventh are spelled up (G minor's F#, not Gb)."""
    from musicdesk.score import spell_midi

    if key is not None and key.mode == "minor" and midi % 12 in ((key.tonic_pc + 9) % 12, (key.tonic_pc + 11) % 12):
        return spell_midi(int(midi), fifths + 3)
    return spell_midi(int(midi), fifths)


__all__ = ["spell", "Key", "key_of", "allowed_pitch_classes", "out_of_key_counts", "out_of_key_share"]
