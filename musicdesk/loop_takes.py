"""Record-loop over a range of bars: each pass of the bars is a take of its own.

The recording runs on without a break; a count-in (the count-in beats of Settings) comes before every
pass, so the player breathes, finds the tempo again, and every pass starts on a known beat. Pass k's
bars start at `LoopPlan.bars_start_s(k)` in the recording; its take is the audio from a little before
that to a little after the bars end (`LoopPlan.take_span_s`), judged against `excerpt(score, first,
last)`: the score's notes of those bars, with time 0 at the start of the first bar.

All times are seconds in the recording (from its first sample) unless named score time.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from musicdesk.playback import _beat_unit_quarters, _beats_to_s, _measure_run, _measure_start_beats
from musicdesk.score import Score

BEFORE_S = 0.3      # a pass's take starts this long before its first bar (an early first note)
AFTER_S = 0.8       # ... and runs on this long after its last bar (a late or ringing last note)
MIN_PART = 0.9      # a pass cut short by Stop counts as a take when this much of its bars was recorded


def excerpt(score: Score, first_measure: int, last_measure: int) -> Score:
    """The notes of measures `first_measure`..`last_measure` (printed numbers, inclusive; the first
    pass through them with repeats) as a Score of their own: time 0 and beat 0 at the start of the
    first measure (a pickup's rests included), notes re-indexed from 0, ids, measure numbers and names
    kept (so that results land on the same engraved notes), tempo the mean over those bars.
    Raises ValueError when the range holds no notes."""
    i0, i1 = _measure_run(score, first_measure, last_measure)
    notes = score.notes
    unit_q = _beat_unit_quarters(notes)
    start_b = _measure_start_beats(notes[i0], unit_q)
    end_b = _measure_start_beats(notes[i1], unit_q) if i1 < len(notes) else max(
        n.offset_beats for n in notes[i0:i1])
    if end_b <= start_b:
        end_b = max(n.offset_beats for n in notes[i0:i1])
    start_s, end_s = (float(v) for v in _beats_to_s(score, np.array([start_b, end_b])))
    picked = tuple(dataclasses.replace(n, index=k, onset_beats=round(n.onset_beats - start_b, 9),
                                       onset_s=n.onset_s - start_s)
                   for k, n in enumerate(notes[i0:i1]))
    bpm = 60.0 * (end_b - start_b) / (end_s - start_s) if end_s > start_s else score.tempo_bpm
    return dataclasses.replace(score, notes=picked, tempo_bpm=float(bpm),
                               duration_s=max(end_s - start_s, max(n.offset_s for n in picked)),
                               warnings=())


@dataclass(frozen=True)
class LoopPlan:
    """Where each pass lies in a loop recording. A cycle is a count-in (`count_in_s`, 0 for none)
    then one pass of the bars (`pass_s`); pass k (from 0) is cycle k."""

    first_measure: int
    last_measure: int
    count_in_s: float
    pass_s: float
    before_s: float = BEFORE_S
    after_s: float = AFTER_S

    @property
    def cycle_s(self) -> float:
        return self.count_in_s + self.pass_s

    def bars_start_s(self, k: int) -> float:
        """Recording time at which pass k's first bar starts."""
        return k * self.cycle_s + self.count_in_s

    def take_span_s(self, k: int) -> tuple[float, float]:
        """(start, end) of pass k's take in the recording."""
        a = self.bars_start_s(k)
        return max(0.0, a - self.before_s), a + self.pass_s + self.after_s

    def passes_complete(self, recorded_s: float) -> int:
        """How many passes' takes lie wholly in the first `recorded_s` seconds."""
        return max(0, int(math.floor((recorded_s - self.count_in_s - self.pass_s - self.after_s)
                                     / self.cycle_s + 1e-9)) + 1)

    def passes_at_stop(self, recorded_s: float) -> int:
        """Passes that count when the recording stops after `recorded_s` s: the complete ones, and a last
        one whose bars were recorded for at least MIN_PART of their length."""
        n = self.passes_complete(recorded_s)
        if recorded_s - self.bars_start_s(n) >= MIN_PART * self.pass_s:
            n += 1
        return n

    def pass_at(self, recorded_s: float) -> tuple[int, float]:
        """(pass index, seconds into its bars; negative during its count-in) at `recorded_s`."""
        k = max(0, int(math.floor(recorded_s / self.cycle_s)))
        return k, recorded_s - self.bars_start_s(k)


def plan_loop(bars: Score, first_measure: int, last_measure: int, count_in_s: float) -> LoopPlan:
    """The loop over `bars` (the `excerpt` of measures `first_measure`..`last_measure`) at its tempo,
    with `count_in_s` of count-in before each pass.
    The run-on after a pass stays inside the next count-in (when there is none: 0.15 s), so that the
    next pass's first note is not taken for an extra note of this one."""
    after = min(AFTER_S, max(0.15, count_in_s - 0.1)) if count_in_s > 0 else 0.15
    before = min(BEFORE_S, count_in_s) if count_in_s > 0 else 0.0
    return LoopPlan(int(first_measure), int(last_measure), float(count_in_s), float(bars.duration_s),
                    before_s=before, after_s=after)


def cut_pass(samples: np.ndarray, sr: int, plan: LoopPlan, k: int) -> np.ndarray:
    """Pass k's take from a loop recording's samples (what was recorded of it, if it was cut short)."""
    a, b = plan.take_span_s(k)
    return np.asarray(samples[int(round(a * sr)):int(round(b * sr))])
