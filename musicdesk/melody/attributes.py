"""Per-measure attributes, computed from a measure's tick tokens: what the melody lab's sliders show
and set. Pure functions; each value in the unit its name says.

- rhythmic_complexity (0-1): AR-VAE's metrically weighted onset measure: each note onset counts with
  the weight of its tick (on the downbeat 0.2, on beat 3 0.25, on beats 2 and 4 0.67; between beats
  1 on a sixteenth, 0.5 on the half beat, 2 on a triplet), summed and divided by the sum of the weights
  of every tick of the measure;
- pitch_range_semitones: highest minus lowest pitch of the notes that start in the measure;
- note_density (notes per beat): note onsets in the measure per quarter beat;
- contour_semitones: the mean signed interval between consecutive notes of the measure (> 0: rising);
- interval_semitones: the mean absolute interval between consecutive notes of the measure;
- syncopation (0-1): the share of the measure's notes that start off the beat and sound on through
  the next beat.

A note tied in from the measure before is not a note of this measure. With fewer than two notes the
interval attributes are 0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from musicdesk.melody.tokens import MEASURE_BEATS, MEASURE_TICKS, TICKS_PER_BEAT, measure_notes, measure_ticks_for

ATTRIBUTES: tuple[str, ...] = ("rhythmic_complexity", "pitch_range_semitones", "note_density", "contour_semitones",
                               "interval_semitones", "syncopation")
_SUB_WEIGHTS = (None, 1.0, 2.0, 0.5, 2.0, 1.0)           # by tick within a beat (None: on the beat)
_BEAT_WEIGHTS = (0.2, 0.67, 0.25, 0.67)                  # the beat ticks of beats 1-4
TICK_WEIGHTS = np.array([_BEAT_WEIGHTS[b] if k == 0 else _SUB_WEIGHTS[k]
                         for b in range(MEASURE_BEATS) for k in range(TICKS_PER_BEAT)])


def attributes(row: Sequence[int], measure_beats: float = MEASURE_BEATS) -> dict[str, float]:
    """Every attribute of one measure (its MEASURE_TICKS tokens; `measure_beats` quarter beats long)."""
    if len(row) != MEASURE_TICKS:
        raise ValueError(f"a measure is {MEASURE_TICKS} tick tokens, not {len(row)}")
    per = measure_ticks_for(measure_beats)
    notes = measure_notes(row, measure_beats)
    onsets = [t for _, t, _ in notes]
    pitches = np.array([m for m, _, _ in notes], dtype=np.float64)
    steps = np.diff(pitches)
    sync = [t % TICKS_PER_BEAT != 0 and (t // TICKS_PER_BEAT + 1) * TICKS_PER_BEAT < t + d for _, t, d in notes]
    return {
        "rhythmic_complexity": float(TICK_WEIGHTS[onsets].sum() / TICK_WEIGHTS[:per].sum()),
        "pitch_range_semitones": float(np.ptp(pitches)) if len(pitches) else 0.0,
        "note_density": len(notes) / float(measure_beats),
        "contour_semitones": float(steps.mean()) if len(steps) else 0.0,
        "interval_semitones": float(np.abs(steps).mean()) if len(steps) else 0.0,
        "syncopation": float(np.mean(sync)) if sync else 0.0,
    }


def attribute_matrix(rows: np.ndarray, measure_beats: float = MEASURE_BEATS) -> np.ndarray:
    """(n_measures, len(ATTRIBUTES)) attributes of token rows, in ATTRIBUTES order."""
    return np.array([[attributes(r, measure_beats)[a] for a in ATTRIBUTES] for r in np.atleast_2d(rows)],
                    dtype=np.float64).reshape(-1, len(ATTRIBUTES))
