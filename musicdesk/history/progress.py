"""Progress over takes, and comparing two takes: pure functions over rows the store fetched.

Per bar, across takes: the share of right notes (status "correct"), the median absolute cents of the
right notes, and the timing spread (median absolute timing error, ms, of the notes judged for timing).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BarStats:
    bar: int
    n_notes: int
    right_share: float                 # 0..1
    median_abs_cents: float | None     # of the right notes
    timing_spread_ms: float | None     # median |timing error| of the notes with one


@dataclass(frozen=True)
class Progress:
    """A student's takes of a piece, oldest first: each take's summary, and its bars."""

    takes: list                        # store.TakeRow, oldest first
    bars: list[int]                    # every bar that has a note
    per_take: list[dict]               # per take: bar -> BarStats (bars without notes in that take absent)

    def to_json_dict(self) -> dict:
        return {
            "takes": [{"id": str(t.id), "recorded_at": t.recorded_at.isoformat(), "duration_s": round(t.duration_s, 3),
                       "n_notes": t.n_notes, "n_correct": t.n_correct,
                       "ratings": {k: round(v, 4) for k, v in t.ratings.items()},
                       "network": {k: round(v, 4) for k, v in t.network.items()},
                       "grades": {c: {"value": v, "scale_max": mx, "status": st} for c, (v, mx, st) in t.grades.items()},
                       "bars": {str(b): _bar_json(bs) for b, bs in bars.items()}}
                      for t, bars in zip(self.takes, self.per_take)],
            "bars": self.bars,
        }


def _bar_json(b: BarStats) -> dict:
    return {"n_notes": b.n_notes, "right_share": round(b.right_share, 4),
            "median_abs_cents": None if b.median_abs_cents is None else round(b.median_abs_cents, 1),
            "timing_spread_ms": None if b.timing_spread_ms is None else round(b.timing_spread_ms, 1)}


def _group_medians(keys: np.ndarray, values: np.ndarray) -> dict:
    """key -> median of the finite values with that key (vectorised: one sort for all groups)."""
    ok = np.isfinite(values)
    k, v = keys[ok], values[ok]
    if not len(k):
        return {}
    order = np.lexsort((v, k))
    k, v = k[order], v[order]
    uniq, start, count = np.unique(k, return_index=True, return_counts=True)
    med = 0.5 * (v[start + (count - 1) // 2] + v[start + count // 2])
    return dict(zip(uniq.tolist(), med.tolist()))


def progress_of(takes: list, analysis_ids: dict, counts: list, values: np.ndarray) -> Progress:
    """Per-bar statistics of each take's current analysis, vectorised (100 takes of 300 notes in a few ms).

    takes: TakeRow oldest first; analysis_ids: take id -> its current analysis id; counts: (analysis id,
    number of its note rows) in the order the rows come; values: one row per note, in that order, of
    (bar, 1 if right else 0, |cents| if right else NaN, |timing error ms| or NaN)."""
    column = {aid: j for j, t in enumerate(takes) if (aid := analysis_ids.get(t.id)) is not None}
    per_take: list[dict] = [{} for _ in takes]
    values = np.asarray(values, dtype=float).reshape(-1, 4)
    if sum(n for _, n in counts) != len(values):
        raise ValueError("progress_of: the counts do not add up to the rows given")
    take_j = np.repeat([column.get(aid, -1) for aid, _ in counts], [n for _, n in counts]).astype(np.int64)
    keep = take_j >= 0
    take_j, values = take_j[keep], values[keep]
    if len(values):
        bar = values[:, 0].astype(np.int64)
        lo = int(bar.min())
        span = int(bar.max()) - lo + 1
        key = take_j * span + (bar - lo)
        uniq, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
        n_right = np.bincount(inverse, weights=values[:, 1], minlength=len(uniq))
        med_c, med_t = _group_medians(key, values[:, 2]), _group_medians(key, values[:, 3])
        for u, n, r in zip(uniq.tolist(), count.tolist(), n_right.tolist()):
            j, b = divmod(u, span)
            per_take[j][b + lo] = BarStats(b + lo, n, r / n, med_c.get(u), med_t.get(u))
    bars = sorted({b for p in per_take for b in p})
    return Progress(takes, bars, per_take)


@dataclass(frozen=True)
class NoteChange:
    note_id: str
    bar: int
    beat: float
    name: str
    a: str                    # what take A did: "right", "wrong note", "missed", "12 cents sharp", "early 80 ms"...
    b: str
    change: str               # improved | worse | same


@dataclass(frozen=True)
class Comparison:
    changes: list[NoteChange] = field(default_factory=list)

    @property
    def improved(self) -> list[NoteChange]:
        return [c for c in self.changes if c.change == "improved"]

    @property
    def worse(self) -> list[NoteChange]:
        return [c for c in self.changes if c.change == "worse"]

    def to_json_dict(self) -> dict:
        return {"improved": len(self.improved), "worse": len(self.worse),
                "notes": [c.__dict__ for c in self.changes]}


CENTS_STEP = 10.0     # an intonation change smaller than this is "same"
TIMING_STEP_MS = 30.0  # likewise for timing


def _score(r) -> tuple[int, float, float]:
    """(pitch class: 2 right, 1 wrong note, 0 missed; |cents|; |timing ms|) of one note result."""
    rank = {"correct": 2, "wrong_pitch": 1}.get(r.status, 0)
    cents = abs(r.cents) if (r.status == "correct" and r.cents is not None) else 0.0
    timing = abs(r.timing_error_ms) if (r.timing in ("early", "late") and r.timing_error_ms is not None) else 0.0
    return rank, cents, timing


def _what(r) -> str:
    if r.status == "missed":
        return "missed"
    if r.status == "wrong_pitch":
        return f"wrong note ({r.played_name or '?'})"
    parts = []
    if r.intonation in ("sharp", "flat") and r.cents is not None:
        parts.append(f"{abs(r.cents):.0f} cents {r.intonation}")
    if r.timing in ("early", "late") and r.timing_error_ms is not None:
        parts.append(f"{r.timing} {abs(r.timing_error_ms):.0f} ms")
    return ", ".join(parts) or "right"


def compare_notes(a_rows, b_rows) -> Comparison:
    """Per note (matched by note id), whether take B improved on take A: a right pitch beats a wrong
    one beats a missed note; then intonation (by CENTS_STEP), then timing (by TIMING_STEP_MS)."""
    b_by_id = {r.note_id: r for r in b_rows}
    out = []
    for ra in a_rows:
        rb = b_by_id.get(ra.note_id)
        if rb is None:
            continue
        (pa, ca, ta), (pb, cb, tb) = _score(ra), _score(rb)
        if pa != pb:
            change = "improved" if pb > pa else "worse"
        elif abs(ca - cb) >= CENTS_STEP and (ra.intonation in ("sharp", "flat") or rb.intonation in ("sharp", "flat")):
            change = "improved" if cb < ca else "worse"
        elif abs(ta - tb) >= TIMING_STEP_MS:
            change = "improved" if tb < ta else "worse"
        else:
            change = "same"
        out.append(NoteChange(ra.note_id, ra.bar, ra.beat, ra.expected_name, _what(ra), _what(rb), change))
    return Comparison(out)
