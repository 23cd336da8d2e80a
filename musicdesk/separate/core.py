"""`separate()`: an ensemble recording and its multi-part score in, one stem per part out.

Steps: every part aligned to the recording at once (`musicdesk.separate.align`), then the stems by the
chosen method (today "nmf", the score-informed NMF baseline of `musicdesk.separate.nmf`), each part's
activity over time and each stem's pitch contour informed by its part's notes. The stems sum to the
mixture, so `Stems.minus_one(k)` (everything except part k) is the mixture less that stem.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

SR = 22050
MIN_DURATION_S = 2.0          # shorter audio cannot be aligned meaningfully
SILENCE_RMS_DB = -60.0        # a recording whose loud frames are quieter than this is silence
WRONG_PIECE_RATIO = 0.74      # alignment cost over the cost of the score transposed (EnsembleAlignment.
                              # match_ratio) above this: the recording does not follow the score (rendered
                              # ensembles, training/ensemble.py: 0.47-0.62 right, 0.86-1.02 another chorale)
ACTIVITY_HOP_S = 0.01
METHODS = ("auto", "network", "nmf")
# auto: the NMF baseline. On the design set (rendered validation chorales, training/separate_eval.py) the
# shipped network is below it (7.8 against 9.6 dB SDR on a take), so the network is there on request only.
AUTO_METHOD = "nmf"
NMF_CHUNK_S = 60.0                     # NMF runs on chunks this long (memory), the network on shorter ones


class SeparationError(ValueError):
    """Bad input to separation; the message says what to do."""


class TooFewPartsError(SeparationError):
    """The score has fewer than two parts with notes (minus-one practice says it in its own words)."""


@dataclass(frozen=True)
class Stems:
    """The separated parts of one recording (all arrays at `sr`)."""

    sr: int
    parts: tuple[str, ...]                 # part names, in score order
    stems: np.ndarray                      # (parts, samples) float32; they sum to `mixture`
    mixture: np.ndarray                    # (samples,) float32
    activity: np.ndarray                   # (parts, frames) in [0, 1], one frame per activity_hop_s: the
                                           # network's activity head, or (NMF) the aligned score
    method: str
    alignment: object | None = None        # musicdesk.separate.align.EnsembleAlignment
    timings_s: dict = field(default_factory=dict)
    activity_hop_s: float = ACTIVITY_HOP_S

    def minus_one(self, k: int) -> np.ndarray:
        """Everything except part k (what a player practising part k plays along with)."""
        return (self.mixture - self.stems[k]).astype(np.float32)

    def index(self, part: str | int) -> int:
        """The index of a part given by name (case-insensitive) or 0-based number."""
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            k = int(part)
            if 0 <= k < len(self.parts):
                return k
        else:
            low = [p.lower() for p in self.parts]
            if part.lower() in low:
                return low.index(part.lower())
        raise SeparationError(f"No part {part!r} in the score; its parts are: {', '.join(self.parts)}.")


def load_parts(score_path: str | os.PathLike, parts: Sequence[str | int] | None = None,
               tempo_bpm: float | None = None) -> list:
    """Every part of a multi-part score that has notes (or the chosen ones), as musicdesk Scores.
    Raises SeparationError for a score with fewer than two parts."""
    from musicdesk.score import ScoreError, list_parts, load_score

    names = list_parts(score_path)
    scores = []
    for i, _ in enumerate(names):
        try:
            scores.append(load_score(score_path, i, tempo_bpm=tempo_bpm))
        except ScoreError:
            continue  # a part with no notes
    if len(scores) < 2:
        raise TooFewPartsError(f"The score {os.path.basename(str(score_path))} has {len(scores)} part(s) with notes; "
                              "separation needs a score with two parts or more (one per player).")
    if parts:
        want = []
        for p in parts:
            hit = [s for i, s in enumerate(scores) if s.part.lower() == str(p).lower() or str(i) == str(p)]
            if not hit:
                raise SeparationError(f"No part {p!r} in the score; its parts are: {', '.join(s.part for s in scores)}.")
            want.append(hit[0])
        scores = want
    return scores


def check_audio(samples: np.ndarray, sr: int) -> None:
    """Raise SeparationError for audio too short or silent to separate."""
    y = np.asarray(samples, np.float32)
    if len(y) < MIN_DURATION_S * sr:
        raise SeparationError(f"The recording is {len(y) / sr:.1f} s long; separation needs at least "
                              f"{MIN_DURATION_S:.0f} s of the ensemble playing.")
    hop = max(1, sr // 100)
    n = len(y) // hop
    rms = np.sqrt(np.mean(y[:n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-20)
    if 20 * np.log10(np.percentile(rms, 95)) < SILENCE_RMS_DB:
        raise SeparationError("The recording is silent: check the file, or the input level when recording.")


def _activity(alignment, n_frames: int, hop_s: float) -> np.ndarray:
    """(parts, frames) 1 where the aligned score has the part playing, with 30 ms ramps at the edges."""
    A = np.zeros((len(alignment.parts), n_frames), np.float32)
    ramp = max(1, int(round(0.03 / hop_s)))
    for k, al in enumerate(alignment.parts):
        for n in al.notes:
            if n.onset_s is None:
                continue
            a, b = int(n.onset_s / hop_s), min(n_frames, int(np.ceil(n.offset_s / hop_s)))
            A[k, max(0, a):b] = 1.0
    if ramp > 1:
        kern = np.ones(ramp) / ramp
        A = np.stack([np.convolve(r, kern, mode="same") for r in A]).astype(np.float32)
    return np.clip(A, 0.0, 1.0)


def separate(samples: np.ndarray, sr: int, scores: Sequence, method: str = "auto",
             progress: Callable[[float, str], None] | None = None, cancel: Callable[[], bool] | None = None,
             alignment=None, device: str | None = None) -> Stems:
    """Separate a mono recording (`sr` Hz) into one stem per score part (`scores`: musicdesk Scores on
    one time line, as from `load_parts`). `alignment` (an EnsembleAlignment) skips the aligner.
    progress(fraction, stage) is called as work proceeds; cancel() returning True raises
    InterruptedError. Raises SeparationError on bad input (silence, too short, another piece)."""
    from musicdesk.audio import resample
    from musicdesk.separate.align import align_ensemble
    from musicdesk.separate.nmf import separate_nmf
    from musicdesk.separate.predict import has_weights, notes_between, run_chunked, separate_network

    if method not in METHODS:
        raise SeparationError(f"Unknown separation method {method!r}; choose one of: {', '.join(METHODS)}.")
    if len(scores) < 2:
        raise TooFewPartsError("Separation needs a score with two parts or more (one per player).")
    if method == "auto":
        method = AUTO_METHOD
    if method == "network" and not has_weights():   # before the alignment's seconds, not after
        raise SeparationError("The separation network's weights are not installed (models/separate_iass.safetensors); "
                              "use --method nmf.")
    y = np.asarray(samples, np.float32)
    if y.ndim > 1:
        y = y.mean(axis=1 if y.shape[1] < y.shape[0] else 0)
    if sr != SR:
        y = resample(y, sr, SR).astype(np.float32)
    check_audio(y, SR)
    report = progress or (lambda f, s: None)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    report(0.0, "aligning the score")
    if alignment is None:
        alignment = align_ensemble(scores, y, SR)
        if alignment.match_ratio > WRONG_PIECE_RATIO:
            raise SeparationError(
                f"The recording does not follow this score: it matches the score hardly better than the score "
                f"moved to other keys (ratio {alignment.match_ratio:.2f}, above {WRONG_PIECE_RATIO}). "
                "Is it a recording of this piece, at the written key?")
    times["align_s"] = time.perf_counter() - t0
    if cancel is not None and cancel():
        raise InterruptedError("Separation cancelled.")
    t1 = time.perf_counter()
    notes = []
    for sc, al in zip(scores, alignment.parts):
        notes.append([(x.onset_s, x.offset_s, n.midi) for n, x in zip(sc.notes, al.notes) if x.onset_s is not None])
    step = lambda f: report(0.1 + 0.85 * f, "separating")  # noqa: E731
    act = None
    if method == "network":
        stems, act = separate_network(y, notes, device=device, progress=step, cancel=cancel,
                                      activity_hop_s=ACTIVITY_HOP_S)
    else:
        def nmf_chunk(seg: np.ndarray, t0: float) -> np.ndarray:
            return separate_nmf(seg, SR, notes_between(notes, t0, t0 + len(seg) / SR), cancel=cancel)

        stems = run_chunked(y, len(notes), nmf_chunk, chunk_s=NMF_CHUNK_S, overlap_s=2.0, progress=step, cancel=cancel)
    times["separate_s"] = time.perf_counter() - t1
    if act is None:   # NMF: where the aligned score has the part playing
        act = _activity(alignment, int(np.ceil(len(y) / SR / ACTIVITY_HOP_S)), ACTIVITY_HOP_S)
    times["total_s"] = time.perf_counter() - t0
    report(1.0, "done")
    return Stems(SR, tuple(s.part for s in scores), stems, y, act, method, alignment, times)


def part_stem(score_path: str | os.PathLike, score, take, tempo_bpm: float | None = None,
              progress: Callable[[float, str], None] | None = None, cancel: Callable[[], bool] | None = None):
    """The stem of `score`'s part (a musicdesk Score of one part of `score_path`) separated from an
    ensemble recording `take`, as a Take to analyse like a solo take."""
    from musicdesk.audio import Take

    parts = load_parts(score_path, tempo_bpm=tempo_bpm)
    names = [p.part for p in parts]
    if score.part not in names:
        raise SeparationError(f"The part {score.part!r} has no notes to separate; the parts are: {', '.join(names)}.")
    stems = separate(take.samples, take.sr, parts, progress=progress, cancel=cancel)
    return Take(stems.stems[names.index(score.part)], stems.sr, take.path)


def stem_contour(stems: Stems, k: int, score):
    """The pitch contour of stem k (musicdesk's default tracker), octave errors fixed with the pitch its
    part's aligned notes expect (`musicdesk.pitch.refine_with_score`)."""
    from musicdesk.audio import Take
    from musicdesk.pitch import refine_with_score, track_pitch

    c = track_pitch(Take(stems.stems[k], stems.sr, ""))
    exp = np.full(len(c.times_s), np.nan)
    if stems.alignment is not None:
        for n, x in zip(score.notes, stems.alignment.parts[k].notes):
            if x.onset_s is not None:
                exp[(c.times_s >= x.onset_s) & (c.times_s < x.offset_s)] = n.midi
    return refine_with_score(c, exp)
