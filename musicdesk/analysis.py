"""The practice-analysis pipeline: score + take -> pitch contour -> alignment -> per-note report."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from musicdesk.align import Alignment, align
from musicdesk.audio import Take
from musicdesk.feedback import Report, Tolerances, build_report
from musicdesk.pitch import DEFAULT_TRACKER, PitchContour, refine_with_score, track_pitch
from musicdesk.score import Score

Progress = Callable[[str, float], None]  # (stage name, fraction done in [0, 1])


class AnalysisError(ValueError):
    """The take cannot be analysed (e.g. it is silent); the message says what to do."""


class Cancelled(Exception):
    """Raised when the caller's `cancelled()` returns True between stages."""


@dataclass(frozen=True)
class Analysis:
    """Everything the pipeline produced, for drawing (contour, alignment) and for the report."""

    report: Report
    contour: PitchContour
    alignment: Alignment
    timings_s: dict = field(default_factory=dict)
    assessment: object | None = None    # musicdesk.assess.predict.Assessment, when a network was asked for
    assessment_error: str = ""          # why there is no assessment although one was asked for
    score: Score | None = None          # the score (or excerpt of it) the take was judged against:
                                        # report.notes[i] is score.notes[i]


def expected_midi_per_frame(score: Score, alignment: Alignment, times_s: np.ndarray) -> np.ndarray:
    """The score's pitch expected at each frame time under `alignment` (NaN outside aligned notes)."""
    out = np.full(len(times_s), np.nan)
    for sn, na in zip(score.notes, alignment.notes):
        if na.onset_s is None or na.offset_s is None:
            continue
        lo, hi = np.searchsorted(times_s, [na.onset_s, na.offset_s])
        out[lo:hi] = sn.midi
    return out


MIN_VOICED_S = 0.2  # less pitched sound than this in a whole take: treat it as silent


def track(take: Take, tracker: str = DEFAULT_TRACKER) -> PitchContour:
    """The pipeline's first stage, which needs no score: the take's pitch contour. Raises
    AnalysisError for a take too short to analyse or with no pitched sound in it."""
    if take.duration_s < 0.1:
        raise AnalysisError("The take is too short to analyse (under 0.1 s); record again.")
    contour = track_pitch(take, tracker=tracker)
    if contour.voiced.sum() * contour.hop_s < MIN_VOICED_S:
        raise AnalysisError("No pitched sound was found in the take: it is silent or only noise. "
                            "Check the input device and its level, then record again.")
    return contour


def analyze(score: Score, take: Take, *, tracker: str = DEFAULT_TRACKER,
            tolerances: Tolerances = Tolerances(), progress: Progress | None = None,
            cancelled: Callable[[], bool] | None = None, assess_model: str | None = None,
            device: str | None = None, contour: PitchContour | None = None) -> Analysis:
    """Run the whole pipeline on a take of `score`'s chosen part.

    `contour`: the take's pitch contour from `track(take, tracker)`, when the caller tracked it already
    (the command line does, while the score is read in another process); its time is then not in
    `timings_s`.

    `assess_model` (e.g. "siconvnet"; see musicdesk.assess) adds a network's ratings on `device`
    ("auto": cuda, then mps, then cpu). A network that cannot be loaded leaves `assessment` empty and
    says why in `assessment_error`; the rest of the analysis stands.
    """
    timings: dict[str, float] = {}
    if assess_model:
        from musicdesk.assess import DISPLAY_NAMES

        if assess_model not in DISPLAY_NAMES:
            raise ValueError(f"Unknown assessment network {assess_model!r}; choose one of: "
                             f"{', '.join(DISPLAY_NAMES)}, or none.")

    def stage(name: str, frac: float) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled(name)
        if progress is not None:
            progress(name, frac)

    stage("pitch", 0.0)
    if contour is None:
        t = time.perf_counter()
        contour = track(take, tracker)
        timings["pitch"] = time.perf_counter() - t
    stage("align", 0.45)
    t = time.perf_counter()
    alignment = align(score, contour, take)
    timings["align"] = time.perf_counter() - t
    stage("report", 0.85)
    t = time.perf_counter()
    # With the alignment known, the expected pitch of each frame resolves octave errors of the tracker.
    contour = refine_with_score(contour, expected_midi_per_frame(score, alignment, contour.times_s))
    report = build_report(score, contour, alignment, tolerances)
    timings["report"] = time.perf_counter() - t
    assessment, assessment_error = None, ""
    if assess_model:
        stage("assess", 0.92)
        t = time.perf_counter()
        from musicdesk.assess.predict import assess
        from musicdesk.assess.weights import ModelError

        try:
            assessment = assess(score, contour, assess_model, device, alignment)
        except ModelError as exc:
            assessment_error = str(exc)
        timings["assess"] = time.perf_counter() - t
    stage("done", 1.0)
    return Analysis(report=report, contour=contour, alignment=alignment, timings_s=timings, score=score,
                    assessment=assessment, assessment_error=assessment_error)


def warm_up(assess_model: str | None = None, device: str | None = None) -> None:
    """Load the compiled pitch tracker and aligner (numba's cache), and the assessment network when one
    is named, by analysing one second of a synthetic tone: the first analysis of a session then runs
    at full speed. Call it in a worker thread at start-up; loading holds Python's GIL for a moment."""
    from musicdesk.score import Score, ScoreNote

    sr = 22050
    t = np.arange(sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 440.0 * t) * (t > 0.1) * (t < 0.9)).astype(np.float32)
    notes = tuple(ScoreNote(f"w{i}", f"w{i}", i, 69, 69, i * 1.0, 1.0, 0.1 + 0.4 * i, 0.4, 1, 1.0 + i)
                  for i in range(2))
    score = Score("warm-up", ("w",), "w", notes, 150.0, 0.9)
    try:
        analyze(score, Take(y, sr), assess_model=assess_model, device=device)
    except AnalysisError:
        pass
