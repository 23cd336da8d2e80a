"""Align the notes of a score part to a performed take.

Method (monophonic parts): a left-to-right hidden Markov model over the score notes, decoded with Viterbi
at a 10 ms frame rate (see `musicdesk.align_hmm`). Each note is a chain of "sounding" states (a minimum
duration, then a soft maximum) followed by an optional gap (rest) state and an optional "extra note"
state; a LEAD state before the first played note and a TAIL state after the last one absorb silence, noise
or anything else, so a late start or an early stop costs one fixed penalty. Skipping one or two notes
(missed notes) is allowed at a penalty. Frame costs come from the pitch contour (distance to the note's
pitch, capped, octave errors tolerated), voicing and the take's energy. Entering a note is cheap only
where an onset detector fires (SuperFlux spectral flux gated by a loudness rise, plus pitch changes) and
holding a note across an onset peak costs extra: that is what separates repeated notes of the same pitch.

Two passes: the first (20 ms frames, all notes) uses a loose minimum duration from a global tempo guess;
a local tempo curve is fitted to the notes it found; the second (10 ms, only notes near the first pass's
path) uses durations from that curve, so rhythm helps to resolve ambiguous stretches. Then: a stable
wrong-pitched stretch at the end of a note becomes an extra note; a single missed note with an extra note
in its slot becomes a wrong note; each onset moves to the start of the attack (flux peak within +-50 ms,
walked back to 20% of the peak).

All parameters (`AlignParams`) were set on FluidSynth renders of synthetic melodies, never on the
evaluation recordings. Speed: about 0.3 s per 60 s of audio on a 2-core CPU (numba).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdesk.audio import Take
from musicdesk.pitch import PitchContour

FRAME_S = 0.01  # analysis frame of the aligner (s)


@dataclass(frozen=True)
class NoteAlignment:
    """Where score note `index` was performed; onset/offset are None when the note was not found."""

    index: int
    onset_s: float | None
    offset_s: float | None


@dataclass(frozen=True)
class Alignment:
    notes: tuple[NoteAlignment, ...]                 # one per score note, in score order
    extra: tuple[tuple[float, float], ...] = ()      # (onset_s, offset_s) of performed stretches matching no score note
    method: str = ""


@dataclass(frozen=True)
class AlignParams:
    """Costs of the note HMM (negative log-likelihoods; emissions per 10 ms frame).

    Chosen on synthetic renders (tests/test_align.py situations), never on the evaluation recordings.
    """

    pitch_flat_semitones: float = 0.35   # pitch deviation that costs nothing (vibrato, intonation)
    pitch_scale_semitones: float = 0.5   # beyond the flat zone, cost = (excess / scale)^2 ...
    pitch_cap: float = 4.0               # ... capped here (a wrong note is not infinitely unlikely)
    octave_cost: float = 1.0             # extra cost of a pitch one octave off (tracker octave errors)
    note_unvoiced: float = 1.6           # note state, frame without pitch
    note_silent: float = 1.5             # added when the frame is also silent
    gap_voiced: float = 5.0              # gap (rest) state, frame with pitch
    gap_unvoiced: float = 0.3
    extra_voiced: float = 3.6            # extra-note state, frame with stable pitch
    extra_unstable: float = 4.5          # extra-note state, frame without stable pitch
    bg_voiced: float = 2.0               # LEAD / TAIL state, frame with pitch
    bg_unvoiced: float = 0.5
    onset_weight: float = 3.0            # cost of entering a note where no onset is detected
    repeat_onset_weight: float = 40.0    # ... for a note of the same pitch as the one before, where the
                                         # flux shows no clear re-attack: one long tone is one note (the
                                         # repeated one is missed), so this exceeds skip_cost
    repeat_flux: tuple = (0.15, 0.4)     # flux (normalised) from "no re-attack" to "a clear re-attack"
    inside_onset_weight: float = 2.0     # cost of holding a note (or gap) across an onset peak
    skip_cost: float = 25.0              # per missed note
    late_start_cost: float = 25.0        # entering the score after note 0
    early_stop_cost: float = 25.0        # leaving the score before the last note
    unplayed_note_cost: float = 2.0      # per note left out by a late start / early stop (so a
                                         # repeated last note is not merged into the one before)
    gap_enter_cost: float = 1.0
    extra_enter_cost: float = 12.0
    extra_min_s: float = 0.06            # shortest extra note reported
    split_min_s: float = 0.1             # shortest wrong-pitched stretch cut off the end of a note as extra
    first_pass_min_frac: float = 0.3     # minimum duration / expected duration, first pass
    second_pass_min_frac: float = 0.4    # ... second pass (with the fitted tempo curve)
    max_min_dur_s: float = 0.25          # first pass: cap on the minimum duration of a note
    max_min_dur2_s: float = 1.5          # second pass: cap on the minimum duration of a note
    overtime_frac: float = 2.5           # second pass: a note (with its rest) may last this x expected ...
    overtime_cost: float = 0.5           # ... then pays this per frame
    max_chain_s: float = 3.0             # notes whose soft maximum would exceed this have none (state count)
    band_notes: int = 3                  # second pass: notes considered each side of the first pass's note
    band_s: float = 0.5                  # ... and within this time of it
    refine_s: float = 0.05               # onset refinement: search radius around the decoded boundary
    refine_back_s: float = 0.06          # ... how far back from the flux peak the attack may start
    refine_frac: float = 0.2             # ... attack start: flux above this fraction of the peak
    onset_shift_s: float = -0.01         # constant added to every refined onset: on FluidSynth renders of
                                         # 6 instruments x 2 soundfonts the flux-based attack start lies a
                                         # median 0-30 ms (mostly 10 ms) after the note-on
    silence_db: float = -45.0            # frames this far below the take's loud level are silent


# --------------------------------------------------------------------------- features

@dataclass(frozen=True)
class Frames:
    """Per-frame features on the aligner's 10 ms grid."""

    times_s: np.ndarray
    midi: np.ndarray      # NaN where unvoiced
    stable: np.ndarray    # voiced and pitch steady over +-20 ms
    silent: np.ndarray
    onset: np.ndarray     # onset evidence in [0, 1] (spectral flux, pitch changes)
    flux: np.ndarray      # spectral flux normalised by its 98th percentile
    hop_s: float          # exact frame step (hop samples / sr; about FRAME_S)


_MEL: dict = {}


def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    key = (sr, n_fft)
    if key not in _MEL:
        import librosa

        _MEL[key] = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=96, fmin=30.0, fmax=min(8000.0, sr / 2))
    return _MEL[key]


def frame_features(contour: PitchContour, take: Take, silence_db: float = -45.0) -> Frames:
    """Resample the contour to the 10 ms grid and add energy and onset strength from the audio."""
    import librosa

    sr = take.sr
    hop = int(round(FRAME_S * sr))
    y = np.asarray(take.samples, dtype=np.float32)
    n = max(1, int(np.ceil(len(y) / hop)))
    times = np.arange(n) * (hop / sr)
    # contour -> grid (nearest frame)
    cm = contour.midi
    if len(contour.times_s):
        idx = np.clip(np.searchsorted(contour.times_s, times), 0, len(contour.times_s) - 1)
        idx2 = np.clip(idx - 1, 0, len(contour.times_s) - 1)
        pick = np.where(np.abs(contour.times_s[idx2] - times) < np.abs(contour.times_s[idx] - times), idx2, idx)
        midi = cm[pick]
        far = np.abs(contour.times_s[pick] - times) > max(contour.hop_s, FRAME_S)
        midi[far] = np.nan
    else:
        midi = np.full(n, np.nan)
    # energy
    n_fft = 1024
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True))[:, :n]
    if S.shape[1] < n:
        S = np.pad(S, ((0, 0), (0, n - S.shape[1])))
    power = (S ** 2).sum(axis=0)
    db = 10 * np.log10(power + 1e-12)
    loud = np.percentile(db, 95) if n else 0.0
    silent = db < loud + silence_db
    # onset strength: SuperFlux (Boeck & Widmer 2013): log mel magnitudes, rise against a frequency-
    # max-filtered frame 20 ms earlier, so vibrato (partials moving between bins) causes little flux
    mel = _mel_basis(sr, n_fft)
    M = mel @ S
    logM = np.log1p(100.0 * M / (float(M.max()) + 1e-12))
    ref_m = np.maximum(logM, np.maximum(np.roll(logM, 1, axis=0), np.roll(logM, -1, axis=0)))
    lag = 2
    flux = np.zeros(n)
    if n > lag:
        flux[lag:] = np.maximum(0.0, logM[:, lag:] - ref_m[:, :-lag]).sum(axis=0)
    # pitch change also marks an onset (legato)
    dm = np.zeros(n)
    if n > 2:
        a = np.nan_to_num(midi[:-2], nan=-100.0)
        b = np.nan_to_num(midi[2:], nan=-100.0)
        dm[1:-1] = np.minimum(np.abs(b - a), 2.0) / 2.0
    ref = np.percentile(flux[flux > 0], 98) if np.any(flux > 0) else 1.0
    flux = flux / (ref + 1e-12)
    # sustained loudness change (mean level over the next 50 ms minus the previous 50 ms, dB): a release
    # or click has flux but the sound gets softer, so flux counts fully only where it gets louder
    w = 5
    cs = np.cumsum(np.pad(db, (1, 0)))
    i = np.arange(n)
    a, b = np.clip(i + w, 0, n), np.clip(i - w, 0, n)
    rise_db = (cs[a] - cs[i]) / np.maximum(a - i, 1) - (cs[i] - cs[b]) / np.maximum(i - b, 1)
    gate = np.clip(0.3 + rise_db / 3.0, 0.0, 1.0)
    flux = flux * gate
    onset = np.sqrt(np.clip(flux, 0.0, 1.0))  # sqrt: soft re-attacks of repeated notes still count
    onset = np.maximum(onset, 0.7 * dm * (~np.isnan(midi[np.minimum(np.arange(n) + 1, n - 1)])))
    # stability of pitch
    stable = ~np.isnan(midi)
    if n > 4:
        m = np.nan_to_num(midi, nan=-100.0)
        for k in (-2, 2):
            sh = np.roll(m, k)
            stable &= np.abs(sh - m) < 0.6
    return Frames(times, midi, stable, silent, onset, flux, hop / sr)


# --------------------------------------------------------------------------- costs

def _note_costs(midi_notes: np.ndarray, f: Frames, p: AlignParams) -> np.ndarray:
    """(N, T) emission cost of each note for each frame."""
    m = f.midi[None, :]
    d = np.abs(m - midi_notes[:, None].astype(float))
    d_oct = np.minimum(np.abs(d - 12.0), np.abs(d - 24.0))
    def c(x):
        ex = np.maximum(0.0, x - p.pitch_flat_semitones) / p.pitch_scale_semitones
        return np.minimum(ex ** 2, p.pitch_cap)
    cost = np.minimum(c(d), c(d_oct) + p.octave_cost)
    unv = np.isnan(f.midi)
    cost[:, unv] = p.note_unvoiced
    cost[:, f.silent] += p.note_silent
    return cost


def _run(note_cost, f, p, min_frames, start_cost, stop_cost, chain_len=None, loop_cost=None, band=(None, None),
         decim: int = 1, is_repeat=None):
    """One Viterbi pass; with decim=2 it runs on 20 ms frames (pairs of frames merged) for speed."""
    from musicdesk.align_hmm import decode

    voiced = ~np.isnan(f.midi)
    gap = np.where(voiced, p.gap_voiced, p.gap_unvoiced)
    extra = np.where(f.stable, p.extra_voiced, p.extra_unstable)
    bg = np.where(voiced, p.bg_voiced, p.bg_unvoiced)
    onset_cost = p.onset_weight * (1.0 - f.onset)
    lo_f, hi_f = p.repeat_flux
    repeat_cost = p.repeat_onset_weight * (1.0 - np.clip((f.flux - lo_f) / (hi_f - lo_f), 0.0, 1.0))
    r = 3  # onset peaks: local maxima within +-30 ms
    padded = np.pad(f.onset, r)
    win = np.lib.stride_tricks.sliding_window_view(padded, 2 * r + 1)
    peak = np.where(f.onset >= win.max(axis=1), f.onset, 0.0)
    stay_cost = p.inside_onset_weight * peak
    lx = max(1, int(round(p.extra_min_s / FRAME_S)))
    if chain_len is None:
        chain_len = min_frames
    if loop_cost is None:
        loop_cost = np.zeros(len(min_frames))
    T = len(gap)
    if decim > 1:
        pad = (-T) % decim

        def red(x, how):
            x = np.concatenate([x, np.repeat(x[..., -1:], pad, axis=-1)], axis=-1) if pad else x
            x = x.reshape(x.shape[:-1] + (-1, decim))
            return getattr(x, how)(axis=-1)

        note_cost, gap, extra, bg = (red(x, "sum") for x in (note_cost, gap, extra, bg))
        onset_cost, repeat_cost, stay_cost = red(onset_cost, "min"), red(repeat_cost, "min"), red(stay_cost, "max")
        min_frames = np.maximum(1, min_frames // decim)
        chain_len = np.maximum(min_frames, chain_len // decim)
        lx = max(1, lx // decim)
    kind, note, pos, cost = decode(note_cost, gap, extra, bg, onset_cost, stay_cost, chain_len, min_frames,
                                   loop_cost, lx, start_cost, stop_cost, p.skip_cost, p.gap_enter_cost,
                                   p.extra_enter_cost, band_lo=band[0], band_hi=band[1],
                                   repeat_onset_cost=repeat_cost, is_repeat=is_repeat)
    if decim > 1:
        kind, note, pos = (np.repeat(x, decim)[:T] for x in (kind, note, pos))
    return kind, note, pos, cost


def _band(kind, note, n_notes: int, notes_each_side: int, frames_each_side: int):
    """Per frame, the range of notes near the first pass's path (for the banded second pass)."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    from musicdesk.align_hmm import LEAD

    idx = note.astype(np.int64).copy()
    found = idx[idx >= 0]
    first, last = (int(found.min()), int(found.max())) if len(found) else (0, n_notes - 1)
    idx[(idx < 0) & (kind == LEAD)] = first
    idx[idx < 0] = last
    idx = np.maximum.accumulate(idx)
    size = 2 * frames_each_side + 1
    lo = np.clip(minimum_filter1d(idx, size, mode="nearest") - notes_each_side, 0, n_notes - 1)
    hi = np.clip(maximum_filter1d(idx, size, mode="nearest") + notes_each_side, 0, n_notes - 1)
    return np.maximum.accumulate(lo), np.maximum.accumulate(hi)


def _segments(kind, note, pos, n_notes):
    """First / last+1 frame of each note's sounding stretch (-1 when not visited), and extra stretches."""
    from musicdesk.align_hmm import EXTRA, NOTE

    on = np.full(n_notes, -1)
    off = np.full(n_notes, -1)
    extras = []
    T = len(kind)
    t = 0
    while t < T:
        k, nn = kind[t], note[t]
        u = t
        while u + 1 < T and kind[u + 1] == k and note[u + 1] == nn and not (k == NOTE and pos[u + 1] == 0 and pos[u] != 0) \
                and not (k == EXTRA and pos[u + 1] == 0 and pos[u] != 0):
            u += 1
        if k == NOTE and on[nn] < 0:
            on[nn], off[nn] = t, u + 1
        elif k == EXTRA:
            extras.append((t, u + 1))
        t = u + 1
    return on, off, extras


def _tempo_curve(score_on_s: np.ndarray, on_frames: np.ndarray, fallback: float, hop_s: float) -> np.ndarray:
    """Local seconds-per-score-second at each note, from the first pass (robust local slopes)."""
    n = len(score_on_s)
    ok = np.flatnonzero(on_frames >= 0)
    ratio = np.full(n, fallback)
    if len(ok) < 3:
        return ratio
    perf = on_frames[ok] * hop_s
    sc = score_on_s[ok]
    for i in range(n):
        # neighbours within +-4 found notes
        j = np.searchsorted(ok, i)
        lo, hi = max(0, j - 4), min(len(ok), j + 4)
        if hi - lo < 3:
            lo, hi = max(0, hi - 3), min(len(ok), lo + 3)
        xs, ys = sc[lo:hi], perf[lo:hi]
        if xs[-1] - xs[0] <= 1e-6:
            continue
        slopes = []
        for a in range(len(xs)):
            for b in range(a + 1, len(xs)):
                if xs[b] - xs[a] > 1e-6:
                    slopes.append((ys[b] - ys[a]) / (xs[b] - xs[a]))
        if slopes:
            ratio[i] = float(np.median(slopes))
    return np.clip(ratio, 0.25, 4.0)


def _min_frames(dur_s: np.ndarray, ratio: np.ndarray | float, frac: float, cap_s: float) -> np.ndarray:
    expected = dur_s * ratio / FRAME_S
    return np.clip(np.round(frac * expected), 2, round(cap_s / FRAME_S)).astype(np.int64)


def _refine(on: np.ndarray, off: np.ndarray, flux: np.ndarray, radius: int, back: int, frac: float,
            shift: int) -> np.ndarray:
    """Move each onset frame to where the attack starts.

    Finds the strongest spectral-flux peak within +-radius frames of the decoded boundary, then walks
    back (at most `back` frames) while the flux stays above `frac` of that peak; `shift` frames are
    added (a constant measured on synthetic renders). Keeps onsets strictly increasing.
    """
    out = on.copy()
    prev_on = -1
    n = len(flux)
    for i in range(len(on)):
        if on[i] < 0:
            continue
        lo = max(prev_on + 1, on[i] - radius, 0)
        hi = min(n, on[i] + radius + 1)
        if off[i] > on[i]:
            hi = min(hi, off[i])
        if hi > lo:
            j = lo + int(np.argmax(flux[lo:hi]))
            peak = flux[j]
            k = j
            while k > max(lo, j - back) and flux[k - 1] > frac * peak:
                k -= 1
            out[i] = max(prev_on + 1, min(n - 1, k + shift))
        prev_on = out[i]
    return out


def _split_trailing_extra(on: np.ndarray, off: np.ndarray, midi_n: np.ndarray, f: Frames, min_frames: int,
                          tol_semitones: float = 1.0, slack: int = 10) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Cut a stable, wrong-pitched stretch off the end of a note that was otherwise played right.

    The HMM prefers "wrong note" to "missed + extra", so a short inserted note tends to be absorbed
    into the note before it; this finds it again. Returns new note offsets and the extra stretches.
    """
    off = off.copy()
    extras: list[tuple[int, int]] = []
    for i in range(len(on)):
        a, b = on[i], off[i]
        if a < 0 or b - a < 2 * min_frames:
            continue
        m = f.midi[a:b]
        voiced = ~np.isnan(m)
        d = np.abs(m - midi_n[i])
        d = np.minimum(d, np.abs(d - 12.0))
        match = voiced & (d <= tol_semitones)
        miss = voiced & ~match
        vidx = np.flatnonzero(voiced)
        if len(vidx) == 0:
            continue
        # trailing run of mismatched voiced frames (unvoiced frames inside it are allowed); up to
        # `slack` frames at the very end may differ (the next note's attack before the boundary)
        j = len(vidx) - 1
        while j >= 0 and not miss[vidx[j]] and vidx[j] >= len(m) - slack:
            j -= 1
        j_end = j
        while j >= 0 and miss[vidx[j]]:
            j -= 1
        run = vidx[j + 1:j_end + 1]
        if len(run) < min_frames or match.sum() < min_frames:
            continue
        med = np.median(m[run])
        steady = np.abs(m[run] - med) < 0.5
        if steady.mean() < 0.7:  # not one stable pitch
            continue
        start = a + int(run[np.argmax(steady)])
        end = a + int(run[len(run) - 1 - np.argmax(steady[::-1])]) + 1
        extras.append((start, end))
        off[i] = start
    return off, extras


def _extra_to_wrong_note(on: np.ndarray, off: np.ndarray, extras: list[tuple[int, int]]
                         ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """A single missed note with an extra note in its place is a wrong note: give it that stretch."""
    on, off = on.copy(), off.copy()
    extras = list(extras)
    found = np.flatnonzero(on >= 0)
    for a, b in zip(found[:-1], found[1:]):
        if b - a != 2:
            continue
        inside = [e for e in extras if e[0] >= on[a] and e[1] <= on[b] + 1]
        if not inside:
            continue
        e = max(inside, key=lambda e: e[1] - e[0])
        on[a + 1], off[a + 1] = e
        off[a] = min(off[a], e[0])
        extras.remove(e)
    return on, off, extras


def _merge_leading_extra(on: np.ndarray, off: np.ndarray, extras: list[tuple[int, int]], f: Frames,
                         max_gap: int = 3, max_onset: float = 0.3, same_semitones: float = 0.5
                         ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """An extra stretch running straight into a note, with no attack between them and the same pitch,
    is the start of that note (the HMM's extra state is a little cheaper per frame than a wrong-pitched
    note, so a long wrong note can come out as "extra, then the note's last part")."""
    on = on.copy()
    kept = []
    for a, b in extras:
        hit = np.flatnonzero((on >= 0) & (on >= b - 1) & (on <= b + max_gap))
        if len(hit):
            i = int(hit[0])
            lo, hi = max(0, on[i] - 3), min(len(f.onset), on[i] + 4)
            ext_m, note_m = f.midi[a:b], f.midi[on[i]:off[i]]
            ext_m, note_m = ext_m[~np.isnan(ext_m)], note_m[~np.isnan(note_m)]
            if (f.onset[lo:hi].max(initial=0.0) <= max_onset and len(ext_m) and len(note_m)
                    and abs(np.median(ext_m) - np.median(note_m)) <= same_semitones
                    and (i == 0 or off[i - 1] < 0 or off[i - 1] <= a + 1)):
                on[i] = a
                continue
        kept.append((a, b))
    return on, kept


def _split_merged(on: np.ndarray, off: np.ndarray, expected_frames: np.ndarray, onset: np.ndarray,
                  min_frames: np.ndarray, min_onset: float = 0.5, window: tuple[float, float] = (0.6, 1.4)
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A missed note whose neighbour's stretch is about two notes long, with a clear onset where the
    neighbour should start (or end), was played at the neighbour's pitch: split the stretch there.

    The HMM prefers "skip a note" (a fixed cost) to a long wrong-pitched note, so a wrong note that
    happens to have the pitch of the next note (anticipating it) or the previous one (holding it) is
    absorbed by that neighbour; the re-attack inside the stretch gives it away.
    """
    on, off = on.copy(), off.copy()
    n = len(on)
    for i in range(n):
        if on[i] >= 0:
            continue
        nxt = i + 1 < n and on[i + 1] >= 0 and (i == 0 or on[i - 1] >= 0)
        prv = i > 0 and on[i - 1] >= 0 and (i + 1 == n or on[i + 1] >= 0)
        for j, first_part in ((i + 1, True), (i - 1, False)):
            if not (nxt if first_part else prv):
                continue
            a, b = on[j], off[j]
            e = expected_frames[i] if first_part else expected_frames[j]
            lo = a + max(int(window[0] * e), min_frames[i] if first_part else min_frames[j])
            hi = min(a + int(window[1] * e), b - (min_frames[j] if first_part else min_frames[i]))
            if hi <= lo:
                continue
            t = lo + int(np.argmax(onset[lo:hi]))
            if onset[t] < min_onset:
                continue
            if first_part:
                on[i], off[i], on[j] = a, t, t
            else:
                on[i], off[i], off[j] = t, b, t
            break
    return on, off


def _place_repeated(on: np.ndarray, off: np.ndarray, midi_n: np.ndarray, score_on_s: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Of two repeated notes (same pitch) of which only one was found, give the stretch to the one whose
    expected onset it is nearer to: the performed times of the found notes around them, interpolated
    at each note's score time. (The HMM has no onset-time prior, so it may pick either.)"""
    on, off = on.copy(), off.copy()
    n = len(on)
    for i in range(n - 1):
        if midi_n[i] != midi_n[i + 1] or (on[i] >= 0) == (on[i + 1] >= 0):
            continue
        k = next((k for k in range(i - 1, -1, -1) if on[k] >= 0), None)
        m = next((m for m in range(i + 2, n) if on[m] >= 0), None)
        if k is None or m is None or score_on_s[m] <= score_on_s[k]:
            continue
        found, other = (i, i + 1) if on[i] >= 0 else (i + 1, i)
        slope = (on[m] - on[k]) / (score_on_s[m] - score_on_s[k])
        pred = lambda j: on[k] + slope * (score_on_s[j] - score_on_s[k])  # noqa: E731
        if abs(on[found] - pred(other)) < abs(on[found] - pred(found)):
            on[other], off[other] = on[found], off[found]
            on[found] = off[found] = -1
    return on, off


def align(score, contour: PitchContour, take: Take, params: AlignParams | None = None, **overrides) -> Alignment:
    """Align each note of `score` (a `musicdesk.score.Score`) to the take.

    Returns one `NoteAlignment` per score note in score order (onset/offset None for notes not played)
    and the stretches of stable playing that match no score note (`extra`). Keyword overrides set
    fields of `AlignParams`.
    """
    import dataclasses

    p = dataclasses.replace(params or AlignParams(), **overrides)
    notes = list(score.notes)
    n_notes = len(notes)
    if n_notes == 0:
        return Alignment((), (), "hmm")
    f = frame_features(contour, take, p.silence_db)
    T = len(f.times_s)
    midi_n = np.array([sn.midi for sn in notes], dtype=float)
    on_s = np.array([sn.onset_s for sn in notes], dtype=float)
    dur_s = np.array([max(sn.duration_s, 1e-3) for sn in notes], dtype=float)
    span_s = np.maximum(np.append(np.diff(on_s), dur_s[-1]), dur_s)  # note + any rest after it
    k = np.arange(n_notes)
    start_cost = np.where(k > 0, p.late_start_cost, 0.0) + p.unplayed_note_cost * k
    stop_cost = np.where(k < n_notes - 1, p.early_stop_cost, 0.0) + p.unplayed_note_cost * (n_notes - 1 - k)
    # global tempo guess from the voiced span
    voiced = np.flatnonzero(~np.isnan(f.midi))
    score_len = on_s[-1] + dur_s[-1] - on_s[0]
    if len(voiced) > 1 and score_len > 0:
        r0 = float(np.clip((voiced[-1] - voiced[0]) * f.hop_s / score_len, 0.4, 2.5))
    else:
        r0 = 1.0
    min1 = _min_frames(dur_s, min(r0, 1.0) * 0.8, p.first_pass_min_frac, p.max_min_dur_s)
    note_cost = _note_costs(midi_n, f, p)
    repeat = np.append(False, midi_n[1:] == midi_n[:-1])
    kind, note, pos, _ = _run(note_cost, f, p, min1, start_cost, stop_cost, decim=2, is_repeat=repeat)
    on_f, off_f, extras = _segments(kind, note, pos, n_notes)
    # second pass with the local tempo curve
    ratio = _tempo_curve(on_s, on_f, r0, f.hop_s)
    min2 = _min_frames(dur_s, ratio, p.second_pass_min_frac, p.max_min_dur2_s)
    # soft maximum: held beyond `overtime_frac` x its expected length a note pays `overtime_cost` per frame
    # (only for notes short enough to afford the states; it stops a note swallowing a repeated neighbour)
    expected = span_s * ratio / FRAME_S
    chain2 = np.round(p.overtime_frac * expected).astype(np.int64)
    cap = int(round(p.max_chain_s / FRAME_S))
    loop2 = np.where(chain2 <= cap, p.overtime_cost, 0.0)
    loop2[-1] = 0.0  # the last note may ring on
    chain2 = np.maximum(np.minimum(chain2, cap), min2)
    band = _band(kind, note, n_notes, p.band_notes, int(round(p.band_s / FRAME_S)))
    kind, note, pos, _ = _run(note_cost, f, p, min2, start_cost, stop_cost, chain2, loop2, band, is_repeat=repeat)
    on_f, off_f, extras = _segments(kind, note, pos, n_notes)
    off_f, cut = _split_trailing_extra(on_f, off_f, midi_n, f, int(round(p.split_min_s / FRAME_S)))
    on_f, off_f, extras = _extra_to_wrong_note(on_f, off_f, sorted(extras + cut))
    on_f, extras = _merge_leading_extra(on_f, off_f, extras, f)
    on_f, off_f = _split_merged(on_f, off_f, expected, f.onset, min2)
    on_f, off_f = _place_repeated(on_f, off_f, midi_n, on_s)
    on_f = _refine(on_f, off_f, f.flux, int(round(p.refine_s / FRAME_S)), int(round(p.refine_back_s / FRAME_S)),
                   p.refine_frac, int(round(p.onset_shift_s / FRAME_S)))
    out = []
    for i in range(n_notes):
        if on_f[i] < 0:
            out.append(NoteAlignment(notes[i].index, None, None))
        else:
            out.append(NoteAlignment(notes[i].index, float(f.times_s[on_f[i]]), float(min(off_f[i], T) * f.hop_s)))
    extra = tuple((a * f.hop_s, b * f.hop_s) for a, b in extras if (b - a) * f.hop_s >= p.extra_min_s - 1e-9)
    return Alignment(tuple(out), extra, "hmm")
