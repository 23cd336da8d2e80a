"""A simulated player: turn score notes into performed notes with known, controlled errors.

Used by the tests (inject a wrong note, a note 40 cents flat, a late note ...) and later to make
training data for the assessment networks. Everything is deterministic given its arguments.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from musicdesk.score import ScoreNote
from musicdesk.synth import PerformedNote


MIN_NOTE_S = 0.03   # shortest note the simulated player produces (s)
GAP_S = 0.005       # a note ends at least this long before the next one starts (s)


@dataclass(frozen=True)
class Errors:
    """Errors to inject, keyed by score note index (played order)."""

    wrong_midi: Mapping[int, int] = field(default_factory=dict)       # index -> MIDI actually played
    detune_cents: Mapping[int, float] = field(default_factory=dict)   # index -> cents sharp (+) / flat (-)
    shift_ms: Mapping[int, float] = field(default_factory=dict)       # index -> onset later (+) / earlier (-)
    missed: frozenset[int] = frozenset()                               # indices not played at all
    extra_after: Mapping[int, int] = field(default_factory=dict)      # index -> MIDI of an extra note played
                                                                       # in the second half of that note


@dataclass(frozen=True)
class Truth:
    """What the simulated player really did, to check a report against."""

    onset_s: dict[int, float]                 # score index -> performed onset (played notes only)
    extra: list[tuple[float, float, int]]     # (onset_s, offset_s, midi) of extra notes


def perform(notes: Sequence[ScoreNote], errors: Errors = Errors(), *, tempo_factor: float = 1.0,
            lead_s: float = 1.0, first: int = 0, last: int | None = None,
            articulation: float = 0.92) -> tuple[list[PerformedNote], Truth]:
    """Play score notes `first..last` (inclusive) at `tempo_factor` x the score tempo.

    Score time t maps to lead_s + (t - t_first) / tempo_factor. Each note sounds for `articulation` of its
    written length (a small gap makes note boundaries audible, as with a real player). A shifted note's
    onset moves (its end stays), stopping MIN_NOTE_S short of its neighbours' onsets; notes never
    overlap (the player is monophonic) and last at least MIN_NOTE_S.
    """
    chosen = [n for n in notes if n.index >= first and (last is None or n.index <= last)]
    if not chosen:
        return [], Truth({}, [])
    t0 = chosen[0].onset_s
    played = [n for n in chosen if n.index not in errors.missed]
    on = [lead_s + (n.onset_s - t0) / tempo_factor for n in played]
    off = [o + n.duration_s / tempo_factor * articulation for o, n in zip(on, played)]
    nominal = list(on)
    for k, n in enumerate(played):
        shift = errors.shift_ms.get(n.index, 0.0) / 1000.0
        if shift:
            # the onset moves (the end stays), but never past a neighbour's (a player does not swap notes)
            lo = nominal[k - 1] + MIN_NOTE_S if k > 0 else 0.0
            hi = nominal[k + 1] - MIN_NOTE_S if k + 1 < len(played) else on[k] + shift
            on[k] = min(max(on[k] + shift, lo), hi)
    for k in range(len(played)):  # a note ends before the next begins, and lasts at least MIN_NOTE_S
        if k + 1 < len(played):
            off[k] = min(off[k], on[k + 1] - GAP_S)
        off[k] = max(off[k], on[k] + MIN_NOTE_S)
    out: list[PerformedNote] = []
    onsets: dict[int, float] = {}
    extra: list[tuple[float, float, int]] = []
    for n, a, b in zip(played, on, off):
        midi = errors.wrong_midi.get(n.index, n.midi)
        cents = errors.detune_cents.get(n.index, 0.0)
        if n.index in errors.extra_after:
            mid = a + (b - a) / 2.0
            out.append(PerformedNote(a, mid - 0.02, midi, cents))
            extra_midi = errors.extra_after[n.index]
            out.append(PerformedNote(mid, b, extra_midi))
            extra.append((mid, b, extra_midi))
        else:
            out.append(PerformedNote(a, b, midi, cents))
        onsets[n.index] = a
    return out, Truth(onsets, extra)
