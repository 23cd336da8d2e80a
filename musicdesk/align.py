"""Align the notes of a score part to a performed take.

Method (monophonic parts): a left-to-right hidden Markov model over the score notes, decoded with Viterbi
at a 10 ms frame rate (see `musicdesk.align_hmm`). Each note is a chain of "sounding" states (a minimum
duration, then a soft maximum) followed by an optional gap (rest) state and an optional "extra note"
state; a LEAD state before the first played note and a TAIL state after the last one absorb silence, noise
or anything else, so a late start or an early stop costs one fixed penalty. Skipping one or two notes
(missed notes) is allowed at a penalty. Frame costs come from the pitch contour (distance to the note's
pitch, capped, octave errors tolerated), voicing and the take's energy; where the tracker calls a loud
frame unvoiced but its best guess is still fairly periodic (a bow's noisy start), that guess is weaker
evidence. Entering a note is cheap only where an onset detector fires (SuperFlux spectral flux gated by
a loudness rise, plus pitch changes); holding a note across an onset peak costs extra, counted fully only
for a pitch change or a re-attack that rises out of a dip (vibrato moves a violin's level by a few dB and
makes flux too, a bow change or a tongued repeat rises 10 dB or more): that separates repeated notes.

Two passes: the first (20 ms frames, all notes) uses a loose minimum duration from a global tempo guess;
a local tempo curve is fitted to the notes it found; the second (10 ms, only notes near the first pass's
path) uses durations from that curve, a duration prior (a note much shorter than written, or much longer
than written with its rest, costs extra) and an onset-time prior for repeated notes (timed from the run's
first note and the next different note), so rhythm resolves stretches where the sound does not: a run of
repeated notes with soft re-attacks, after a breath or a phrase-end hold. Then: a stable wrong-pitched
stretch at the end of a note becomes an extra note; a single missed note with an extra note in its slot
becomes a wrong note; a note found at the held pitch of the note before, with no attack and no break in
the sound, is that note held over it, and missed.

Last, each onset is placed where the note begins (`_place_onsets`): the start of its attack (flux peak
near the decoded boundary, walked back), but not before its pitch is established (the note's own pitch,
held steadily; a slide into a slurred note, a noisy bow start or the new pitch fingered in the old stroke's
fade come before it), and not at a quiet lead-in (a faint bow touch before a swell). A slurred note with no
attack begins where its pitch arrives. This is the onset a ground truth made from an F0 annotation marks
(where the annotated pitch starts), and for clean attacks it stays the physical onset.

All parameters (`AlignParams`) were set on FluidSynth renders of synthetic melodies (plain note-on renders
of several instruments, and the bowed-violin takes of tests/synthetic_takes.py: slow attacks, slurs and
glides, vibrato, noisy and soft bow starts, breaths before runs of repeated notes, phrase-end holds), never
on the evaluation recordings. Speed: about 0.1-0.3 s per 60 s of audio on a 2-core CPU (numba).
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

    Chosen on synthetic renders (the situations of tests/test_align.py: plain note-on renders and the
    bowed-violin takes of tests/synthetic_takes.py), never on the evaluation recordings.
    """

    pitch_flat_semitones: float = 0.35   # pitch deviation that costs nothing (vibrato, intonation)
    pitch_scale_semitones: float = 0.5   # beyond the flat zone, cost = (excess / scale)^2 ...
    pitch_cap: float = 4.0               # ... capped here (a wrong note is not infinitely unlikely)
    octave_cost: float = 1.0             # extra cost of a pitch one octave off (tracker octave errors)
    note_unvoiced: float = 1.6           # note state, frame without pitch
    note_silent: float = 1.5             # added when the frame is also silent
    weak_aperiodicity: float = 0.35      # a frame the tracker calls unvoiced still counts as weakly pitched
                                         # where its best guess has at most this YIN aperiodicity (bowed
                                         # renders with bow noise at -9 dB: 0.2-0.35 where the tracker
                                         # gives up; 0.3 missed some, 0.45 changed nothing) ...
    weak_db: float = -25.0               # ... and the frame is no more than this below the take's loud level
                                         # (a noisy start is loud; a guard against room tone and rings:
                                         # no render changed between -20 and -45)
    weak_base: float = 0.2               # ... note state there: this + weak_scale x the pitch cost (renders:
    weak_scale: float = 0.5              # 0.2-0.8 and 0.5-1.0 alike on bowed takes; 0.2 / 0.5 fewest gross
                                         # errors on plain ones)
    gap_weak: float = 2.0                # ... gap state there (a rest is unlikely under a loud noisy pitch;
                                         # 1.0-3.0 alike on renders, 0.3 more gross errors on plain ones;
                                         # LEAD / TAIL keep their unvoiced cost: a take cut mid-note)
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
    reattack_rise_db: tuple = (4.0, 10.0)  # rise factor, 0 -> 1 as the level rises out of a dip (Frames.
                                         # rise_db) by this much: it scales the cost of holding a note across
                                         # an onset peak (a pitch change counts fully) and marks attacks.
                                         # Bowed renders with vibrato: flux peaks inside notes rise 7 dB or
                                         # less (90th pct), re-attacks of repeated notes 25 dB or more (5th
                                         # pct); (3, 8) to (8, 16) alike there, (4, 10) fewest gross errors
                                         # on plain renders, whose repeated notes rise less
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
    repeat_time_weight: float = 4.0      # second pass: onset-time prior of repeated notes (see
    repeat_time_cap: float = 12.0        # _repeat_onset_prior): cost per squared excess over the window,
    repeat_time_flat: float = 0.25       # capped; the window: +- this x the expected inter-onset time ...
    repeat_time_flat_s: float = 0.05     # ... + this. Renders: fewer gross errors on plain violin/oboe/cello
                                         # renders (repeated notes with no audible re-attack); stronger
                                         # (10-20, cap 20-40) misplaces repeats after phrase-end holds
    duration_weight: float = 5.0         # second pass: duration prior, cost per squared log of the ratio ...
    short_frac: float = 0.75             # ... below short_frac x the note's written length at the local
    long_frac: float = 1.6               # tempo, or above long_frac x its length with the rest after it.
                                         # Bowed renders with breaths before repeated notes and holds: 3
                                         # errors over 300 ms without it, none with 5-20; 0.6 left some
    max_chain_s: float = 3.0             # notes whose soft maximum would exceed this have none (state count)
    band_notes: int = 3                  # second pass: notes considered each side of the first pass's note
    band_s: float = 0.5                  # ... and within this time of it
    refine_s: float = 0.05               # onset placement (_place_onsets): attack search radius ...
    refine_back_s: float = 0.06          # ... how far back from the flux peak the attack may start
    refine_frac: float = 0.2             # ... attack start: flux above this fraction of the peak
    attack_min: float = 0.2              # ... a note has an attack where flux x rise factor reaches this
                                         # (0.1-0.4 alike on bowed renders)
    establish_s: float = 0.25            # ... the pitch is looked for up to this after the boundary (soft
                                         # starts of 50-150 ms need 0.25; 0.15 missed some)
    establish_hold_s: float = 0.04       # ... held (within 0.6 semitone) this long (0.02-0.06 alike)
    establish_slack_s: float = 0.03      # ... an attack may come this long before the pitch is established:
                                         # FluidSynth samples settle their pitch up to 30 ms into the note
                                         # (0.02: plain renders' onsets later, 0.04: bowed slides early)
    lead_in_s: float = 0.05              # ... a lead-in at least this long, lead_in_db or more below the
    lead_in_db: float = 12.0             # note's sustained level (90th pct of its first 0.5 s) and ending
                                         # in a clear attack (flux x rise factor >= repeat_flux[1]) is not
                                         # the note (soft starts at -14 to -28 dB; 9-15 dB alike)
    lead_in_flat_db: float = 6.0         # ... a lead-in with no clear attack at its end counts too when it is
    swell_step_db: float = 0.5           # steady (its level within this, 10th-90th pct): the onset is where the
                                         # swell starts (walking back from the loud frame while the level
                                         # falls by this per frame). Bowed renders with a scratch over the
                                         # swell: 6-8 dB alike (4 missed one), 0.3-1.0 dB alike
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
    rise_db: np.ndarray   # level rise into each frame: loudest of the next 60 ms minus quietest of the last 60 ms
    pitch_onset: np.ndarray  # the part of `onset` that comes from a pitch change
    level_db: np.ndarray  # frame level relative to the take's loud level (95th percentile)
    weak_midi: np.ndarray  # in frames the tracker calls unvoiced (not silent): its still fairly periodic
                           # best guess (see `_weak_midi`); NaN elsewhere


_MEL: dict = {}


def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    key = (sr, n_fft)
    if key not in _MEL:
        from musicdesk.dsp import mel_filterbank

        _MEL[key] = mel_filterbank(sr, n_fft, n_mels=96, fmin=30.0, fmax=min(8000.0, sr / 2))
    return _MEL[key]


def _weak_midi(contour: PitchContour, max_aperiodicity: float) -> np.ndarray:
    """Per contour frame: the tracker's best guess (MIDI) in frames it calls unvoiced, where that guess
    is still fairly periodic (YIN aperiodicity <= max_aperiodicity); NaN elsewhere or when the tracker
    gives no candidates. A bow's noisy start or a note ringing on under the next one can make a tracker
    call a frame unvoiced although the pitch is there."""
    out = np.full(len(contour.f0_hz), np.nan)
    cands, aper = contour.candidates_hz, contour.candidate_aperiodicity
    if cands is None or aper is None or not len(out):
        return out
    f0 = np.asarray(contour.f0_hz, dtype=float)
    ok = ~np.asarray(contour.voiced, bool) & (f0 > 0)
    match = np.abs(cands - f0[:, None]) <= 1e-6 * np.maximum(f0[:, None], 1.0)
    a = np.where(match, aper, np.inf).min(axis=1)
    ok &= a <= max_aperiodicity
    out[ok] = 69.0 + 12.0 * np.log2(f0[ok] / 440.0)
    return out


def frame_features(contour: PitchContour, take: Take, silence_db: float = -45.0,
                   weak_aperiodicity: float = 0.35, weak_db: float = -25.0) -> Frames:
    """Resample the contour to the 10 ms grid and add energy and onset strength from the audio."""
    from musicdesk.dsp import stft_magnitude

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
        weak = _weak_midi(contour, weak_aperiodicity)[pick]
        weak[far | ~np.isnan(midi)] = np.nan
    else:
        midi = np.full(n, np.nan)
        weak = np.full(n, np.nan)
    # energy
    n_fft = 1024
    S = stft_magnitude(y, n_fft, hop)[:, :n]
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
    pitch_onset = 0.7 * dm * (~np.isnan(midi[np.minimum(np.arange(n) + 1, n - 1)]))
    onset = np.maximum(onset, pitch_onset)
    # stability of pitch
    stable = ~np.isnan(midi)
    if n > 4:
        m = np.nan_to_num(midi, nan=-100.0)
        for k in (-2, 2):
            sh = np.roll(m, k)
            stable &= np.abs(sh - m) < 0.6
    weak[silent | (db < loud + weak_db)] = np.nan
    return Frames(times, midi, stable, silent, onset, flux, hop / sr, _rise_db(np.maximum(db, loud - 60.0)),
                  pitch_onset, db - loud, weak)


def _rise_db(db: np.ndarray, frames: int = 6) -> np.ndarray:
    """Per frame: the loudest level of this and the next frames-1 frames minus the quietest of this and
    the previous frames-1 (dB). A re-attack (a bow change, a tongued repeat) rises out of a dip by 10 dB
    or more; vibrato and bow-pressure swells move the level by a few dB."""
    n = len(db)
    if n == 0:
        return np.zeros(0)
    pad = np.pad(db, (frames - 1, frames - 1), mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(pad, frames)
    return win[frames - 1:frames - 1 + n].max(axis=1) - win[:n].min(axis=1)


def _rise_factor(f: Frames, p: AlignParams) -> np.ndarray:
    """Per frame, 0 -> 1 as the level rises out of a dip by `reattack_rise_db` (Frames.rise_db): a
    re-attack's, not vibrato's or a swell's few dB."""
    r0_db, r1_db = p.reattack_rise_db
    return np.clip((f.rise_db - r0_db) / (r1_db - r0_db), 0.0, 1.0)


def _attack_strength(f: Frames, p: AlignParams) -> np.ndarray:
    """Per frame: spectral flux x `_rise_factor`; an attack where it reaches `attack_min`."""
    return f.flux * _rise_factor(f, p)


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
    weak = ~np.isnan(f.weak_midi)
    if weak.any():
        dw = np.abs(f.weak_midi[None, weak] - midi_notes[:, None].astype(float))
        dw_oct = np.minimum(np.abs(dw - 12.0), np.abs(dw - 24.0))
        cost[:, weak] = p.weak_base + p.weak_scale * np.minimum(c(dw), c(dw_oct) + p.octave_cost)
    cost[:, f.silent] += p.note_silent
    return cost


def _run(note_cost, f, p, min_frames, start_cost, stop_cost, chain_len=None, loop_cost=None, band=(None, None),
         decim: int = 1, is_repeat=None, end_cost=None, entry_prior=None):
    """One Viterbi pass; with decim=2 it runs on 20 ms frames (pairs of frames merged) for speed."""
    from musicdesk.align_hmm import decode

    voiced = ~np.isnan(f.midi)
    gap = np.where(voiced, p.gap_voiced, np.where(np.isnan(f.weak_midi), p.gap_unvoiced, p.gap_weak))
    extra = np.where(f.stable, p.extra_voiced, p.extra_unstable)
    bg = np.where(voiced, p.bg_voiced, p.bg_unvoiced)
    onset_cost = p.onset_weight * (1.0 - f.onset)
    # re-attack evidence: flux where the level rises out of a dip (not vibrato's or a swell's few dB)
    rise = _rise_factor(f, p)
    lo_f, hi_f = p.repeat_flux
    repeat_cost = p.repeat_onset_weight * (1.0 - np.clip((f.flux - lo_f) / (hi_f - lo_f), 0.0, 1.0))
    r = 3  # onset peaks: local maxima within +-30 ms
    padded = np.pad(f.onset, r)
    win = np.lib.stride_tricks.sliding_window_view(padded, 2 * r + 1)
    peak = np.where(f.onset >= win.max(axis=1), f.onset, 0.0)
    stay_cost = p.inside_onset_weight * np.maximum(peak * rise, np.minimum(peak, f.pitch_onset))
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
                                   repeat_onset_cost=repeat_cost, is_repeat=is_repeat,
                                   end_cost=None if end_cost is None else end_cost[:, decim - 1::decim],
                                   entry_at=None if entry_prior is None else entry_prior[0] / decim,
                                   entry_width=None if entry_prior is None else entry_prior[1] / decim,
                                   entry_weight=p.repeat_time_weight, entry_cap=p.repeat_time_cap)
    if decim > 1:
        kind, note, pos = (np.repeat(x, decim)[:T] for x in (kind, note, pos))
    return kind, note, pos, cost


def _duration_cost(short_frames: np.ndarray, long_frames: np.ndarray, n_states: int, weight: float) -> np.ndarray:
    """(N, n_states) cost of ending each note after 1..n_states frames: `weight` x the squared log of how
    far the duration lies below `short_frames` or above `long_frames` (zero between them)."""
    d = np.arange(1, n_states + 1, dtype=float)[None, :]
    short = np.log(np.maximum(np.maximum(short_frames, 1.0)[:, None] / d, 1.0))
    long = np.log(np.maximum(d / np.maximum(long_frames, 1.0)[:, None], 1.0))
    return weight * (short ** 2 + long ** 2)


def _repeat_onset_prior(on_f: np.ndarray, midi_n: np.ndarray, score_on_s: np.ndarray, ratio: np.ndarray,
                        hop_s: float, flat_frac: float, flat_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected onset frame (and the half-width of the window with no cost) of each repeated note, from
    the first pass: the run of same-pitch notes is timed from its first note's onset forward and from the
    next different note's onset backward, at the local tempo, and the window spans both (so a hold inside
    the run widens it). Width 0 where there is no prior (not a repeat, or an anchor not found).

    A repeated note's pitch says nothing about where it starts; a soft re-attack (a bow change without a
    dip, a release ringing on) can be weaker than vibrato's level swings, so the rhythm has to place it.
    """
    n = len(on_f)
    at = np.zeros(n)
    width = np.zeros(n)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and midi_n[j + 1] == midi_n[i]:
            j += 1
        for k in range(i + 1, j + 1):
            ioi = max(score_on_s[k] - score_on_s[k - 1], 1e-3) * ratio[k] / hop_s
            est = []
            if on_f[i] >= 0:
                est.append(on_f[i] + (score_on_s[k] - score_on_s[i]) * ratio[k] / hop_s)
            if j + 1 < n and on_f[j + 1] >= 0:
                est.append(on_f[j + 1] - (score_on_s[j + 1] - score_on_s[k]) * ratio[k] / hop_s)
            if len(est) == 2:  # one anchor alone cannot tell a hold inside the run from a tempo change
                at[k] = 0.5 * (min(est) + max(est))
                width[k] = 0.5 * (max(est) - min(est)) + flat_frac * ioi + flat_s / hop_s
        i = j + 1
    return at, width


def _band(kind, note, n_notes: int, notes_each_side: int, frames_each_side: int):
    """Per frame, the range of notes near the first pass's path (for the banded second pass)."""
    from musicdesk.dsp import maximum_filter1d, minimum_filter1d

    from musicdesk.align_hmm import LEAD

    idx = note.astype(np.int64).copy()
    found = idx[idx >= 0]
    first, last = (int(found.min()), int(found.max())) if len(found) else (0, n_notes - 1)
    idx[(idx < 0) & (kind == LEAD)] = first
    idx[idx < 0] = last
    idx = np.maximum.accumulate(idx)
    size = 2 * frames_each_side + 1
    lo = np.clip(minimum_filter1d(idx, size) - notes_each_side, 0, n_notes - 1)
    hi = np.clip(maximum_filter1d(idx, size) + notes_each_side, 0, n_notes - 1)
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


def _place_onsets(on: np.ndarray, off: np.ndarray, f: Frames, p: AlignParams) -> np.ndarray:
    """Move each decoded onset to where the note begins: the start of its attack, but not before its
    pitch is established.

    The attack: the strongest spectral-flux peak within +-`refine_s` of the decoded boundary, walked back
    (at most `refine_back_s`) while the flux stays above `refine_frac` of that peak; the note has one where
    flux x rise factor (see `reattack_rise_db`) reaches `attack_min` there. The pitch is established at the
    first frame that holds the note's own pitch (the median of its decoded stretch, so the take's tuning
    and tracker octave errors do not matter) within `pitch_flat_semitones` and stays within 0.6 semitone
    for `establish_hold_s`; weakly pitched frames (`Frames.weak_midi`) count. It is searched up to
    `establish_s` after the boundary, from the attack start, or for a note without an attack (slurred)
    from the boundary. With an attack the onset is the later of the attack start and `establish_slack_s`
    before the pitch is established (a clean attack holds its pitch within its first tens of ms, and the
    attack start stands); without one, where the pitch is established. A quiet lead-in (at least
    `lead_in_s` more than `lead_in_db` below the note's sustained level) that ends in a clear attack moves
    the onset to that attack. `onset_shift_s` is added. Keeps onsets strictly increasing.

    A bowed note's first tens of ms (a slide into a slurred note, the new pitch fingered while the old bow
    fades, a faint touch of the bow before the stroke) are not yet the note.
    """
    radius = int(round(p.refine_s / FRAME_S))
    back = int(round(p.refine_back_s / FRAME_S))
    fwd = int(round(p.establish_s / FRAME_S))
    slack = int(round(p.establish_slack_s / FRAME_S))
    sus_frames = int(round(0.5 / FRAME_S))
    lead_min = int(round(p.lead_in_s / FRAME_S))
    shift = int(round(p.onset_shift_s / FRAME_S))
    n = len(f.flux)
    m = np.where(np.isnan(f.midi), f.weak_midi, f.midi)  # weakly pitched frames count (a noisy start)
    hold = max(1, int(round(p.establish_hold_s / FRAME_S)))
    steady = np.zeros(n, bool)  # pitched here and for the next `hold` frames, within 0.6 semitone
    if n > hold:
        m0 = np.nan_to_num(m, nan=-100.0)
        steady[:-hold] = True
        for j in range(1, hold + 1):
            steady[:-hold] &= np.abs(m0[j:n - hold + j] - m0[:-hold]) < 0.6
    lv = f.level_db
    clear = ~np.isnan(m) & steady
    strength = _attack_strength(f, p)
    attack = strength >= p.repeat_flux[1]
    out = on.copy()
    prev_on = -1
    for i in range(len(on)):
        if on[i] < 0:
            continue
        b = on[i]
        end = off[i] if off[i] > b else n
        lo = max(prev_on + 1, b - radius, 0)
        hi = min(n, b + radius + 1, end)
        k = b
        attacked = False
        if hi > lo:
            j = lo + int(np.argmax(f.flux[lo:hi]))
            peak = f.flux[j]
            k = j
            while k > max(lo, j - back) and f.flux[k - 1] > p.refine_frac * peak:
                k -= 1
            attacked = bool(strength[lo:hi].max() >= p.attack_min)
        seg = m[b:end]
        seg = seg[~np.isnan(seg)]
        if len(seg):
            ref = float(np.median(seg))
            sustain = float(np.percentile(lv[b:max(b + 1, min(end, b + sus_frames))], 90))
            start = k if attacked else b  # no attack (a slurred note): from the decoded boundary
            stop = min(end, b + fwd + 1)
            d = np.abs(m[start:stop] - ref)
            d = np.minimum(d, np.minimum(np.abs(d - 12.0), np.abs(d - 24.0)))  # tracker octave errors
            ok = np.flatnonzero(clear[start:stop] & (d <= p.pitch_flat_semitones))
            if len(ok):
                k = max(k, start + int(ok[0]) - slack) if attacked else start + int(ok[0])
            # a quiet lead-in (lead_in_db or more below the sustain) that ends in a clear attack: the note
            # starts with that attack (a faint touch of the bow, a pre-sound)
            stop = min(end, k + fwd + 1)
            loud = np.flatnonzero(lv[k:stop] >= sustain - p.lead_in_db)
            if len(loud) and loud[0] >= lead_min:
                a0, a1 = k + int(loud[0]) - 2, min(stop, k + int(loud[0]) + 3)
                hit = np.flatnonzero(attack[max(k + 1, a0):a1])
                if len(hit):
                    j = max(k + 1, a0) + int(hit[0])
                    peak = f.flux[j]
                    while j > k + 1 and f.flux[j - 1] > p.refine_frac * peak:
                        j -= 1
                    k = j
                else:
                    # no clear attack (bow noise over the swell hides it): a steady quiet lead-in, then the
                    # level swells: the note starts where the swell starts
                    j = k + int(loud[0])
                    flat = lv[k + lead_min // 2:j]
                    if len(flat) >= 2 and np.percentile(flat, 90) - np.percentile(flat, 10) <= p.lead_in_flat_db:
                        while j > k + 1 and lv[j] - lv[j - 1] >= p.swell_step_db:
                            j -= 1
                        k = j
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


def _merge_held_over(on: np.ndarray, off: np.ndarray, midi_n: np.ndarray, f: Frames, p: AlignParams,
                     radius_s: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """A note found at the pitch of the note before it (another pitch in the score), with that note
    played right, that begins with no attack and with no break in the sound since the note before
    began (no silence, no dip of a re-attack's depth, `reattack_rise_db[1]`, after its first 0.1 s): the
    player held the note before over it and missed it, so it is missed and the note before keeps the
    whole stretch.

    Why: without a pitch change, an attack (flux x rise factor, see `reattack_rise_db`, reaching
    `attack_min`) or a break, no new note began; the HMM's "wrong note at the held pitch" and "missed
    note" cost about the same, and a vibrato or a swell inside the long note tips it to the first (on
    bowed renders of a note held over the next: 12 of 12 read as a wrong pitch). A wrong note re-attacked
    at the held pitch keeps its reading."""
    on, off = on.copy(), off.copy()
    strength = _attack_strength(f, p)
    dip_db = p.reattack_rise_db[1]
    radius = max(1, int(round(radius_s / FRAME_S)))
    settle = int(round(0.1 / FRAME_S))   # the held note's own attack and decay are not a break
    n_frames = len(strength)

    def played(i: int) -> float | None:
        span = slice(on[i], max(on[i] + 1, off[i]))
        seg = f.midi[span][f.stable[span]]
        seg = seg[~np.isnan(seg)]
        return float(np.median(seg)) if len(seg) >= 3 else None

    for i in range(1, len(on)):
        a = i - 1
        if on[i] < 0 or on[a] < 0 or midi_n[i] == midi_n[a] or off[a] < on[i] - 1:
            continue
        pa, pb = played(a), played(i)
        if pa is None or pb is None or abs(pa - midi_n[a]) > 0.5 or abs(pb - pa) > 0.5 or abs(pb - midi_n[i]) <= 0.5:
            continue
        lo, hi = max(0, on[i] - radius), min(n_frames, on[i] + radius + 1)
        if strength[lo:hi].max() >= p.attack_min:     # an attack at the boundary
            continue
        # silence, or a release and a fresh start anywhere in the stretch (the HMM may put the boundary
        # late): the level falls by a re-attack's rise (`reattack_rise_db[1]`) below its running peak
        lv = f.level_db[min(on[a] + settle, hi - 1):hi]
        if f.silent[min(on[a] + settle, lo):hi].any() or float(np.max(np.maximum.accumulate(lv) - lv)) >= dip_db:
            continue
        off[a] = off[i]
        on[i] = off[i] = -1
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


TUNING_AMBIGUOUS_CENTS = 25.0   # a take this far or further from the semitone grid is aligned at both readings


def align(score, contour: PitchContour, take: Take, params: AlignParams | None = None, **overrides) -> Alignment:
    """Align each note of `score` (a `musicdesk.score.Score`) to the take.

    Returns one `NoteAlignment` per score note in score order (onset/offset None for notes not played)
    and the stretches of stable playing that match no score note (`extra`). Keyword overrides set
    fields of `AlignParams`.

    The take is aligned at its own tuning: its contour moved by where its steady pitches sit on the
    semitone grid (a player 8 cents sharp is aligned 8 cents lower), as a tuner set to the player's A
    would hear it. A take 25 cents or more off the grid (a player tuned sharp, then sharper: +55 cents
    reads as -45 from the semitone above) is aligned three ways: as it is, and with
    its contour moved onto the grid from below and from above. The alignment that finds the most notes
    at their own pitch wins. Otherwise a chromatic line played 55 cents sharp lines each score note up
    with the note played before it. The alignment's times come from the moved contour; the report judges
    pitch on the take's own contour, against its own tuning (musicdesk.feedback).
    """
    import dataclasses

    from musicdesk.take_checks import contour_tuning_cents

    def moved(shift_cents: float) -> PitchContour:
        k = 2.0 ** (-shift_cents / 1200.0)
        return contour if shift_cents == 0.0 else dataclasses.replace(
            contour, f0_hz=contour.f0_hz * k,
            candidates_hz=None if contour.candidates_hz is None else contour.candidates_hz * k)

    d = contour_tuning_cents(contour)
    if abs(d) < TUNING_AMBIGUOUS_CENTS:          # one reading: aligned at the take's own tuning
        return _align(score, moved(d), take, params, **overrides)
    best = None
    for shift_cents in (0.0, d, d - 100.0 * np.sign(d)):
        c = moved(shift_cents)
        al = _align(score, c, take, params, **overrides)
        right = _notes_at_pitch(score, c, al)
        if best is None or right > best[0]:
            best = (right, al)
    return best[1]


def _notes_at_pitch(score, contour: PitchContour, alignment: Alignment) -> int:
    """How many aligned notes the contour plays within half a semitone of their written pitch (the
    median of their middle half)."""
    m, t = contour.midi, contour.times_s
    n = 0
    for sn, na in zip(score.notes, alignment.notes):
        if na.onset_s is None or na.offset_s is None:
            continue
        q = 0.25 * (na.offset_s - na.onset_s)
        sel = (t >= na.onset_s + q) & (t <= na.offset_s - q) & np.isfinite(m)
        if sel.any() and abs(float(np.median(m[sel])) - sn.midi) < 0.5:
            n += 1
    return n


def _align(score, contour: PitchContour, take: Take, params: AlignParams | None = None, **overrides) -> Alignment:
    """align() at the contour's own pitch."""
    import dataclasses

    p = dataclasses.replace(params or AlignParams(), **overrides)
    notes = list(score.notes)
    n_notes = len(notes)
    if n_notes == 0:
        return Alignment((), (), "hmm")
    f = frame_features(contour, take, p.silence_db, p.weak_aperiodicity, p.weak_db)
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
    long_f = p.long_frac * expected
    long_f[-1] = np.inf  # the last note may ring on
    end_cost = _duration_cost(p.short_frac * dur_s * ratio / FRAME_S, long_f, int(chain2.max()), p.duration_weight)
    prior = _repeat_onset_prior(on_f, midi_n, on_s, ratio, f.hop_s, p.repeat_time_flat, p.repeat_time_flat_s)
    kind, note, pos, _ = _run(note_cost, f, p, min2, start_cost, stop_cost, chain2, loop2, band, is_repeat=repeat,
                              end_cost=end_cost, entry_prior=prior)
    on_f, off_f, extras = _segments(kind, note, pos, n_notes)
    off_f, cut = _split_trailing_extra(on_f, off_f, midi_n, f, int(round(p.split_min_s / FRAME_S)))
    on_f, off_f, extras = _extra_to_wrong_note(on_f, off_f, sorted(extras + cut))
    on_f, extras = _merge_leading_extra(on_f, off_f, extras, f)
    on_f, off_f = _split_merged(on_f, off_f, expected, f.onset, min2)
    on_f, off_f = _place_repeated(on_f, off_f, midi_n, on_s)
    on_f, off_f = _merge_held_over(on_f, off_f, midi_n, f, p)
    on_f = _place_onsets(on_f, off_f, f, p)
    out = []
    for i in range(n_notes):
        if on_f[i] < 0:
            out.append(NoteAlignment(notes[i].index, None, None))
        else:
            out.append(NoteAlignment(notes[i].index, float(f.times_s[on_f[i]]), float(min(off_f[i], T) * f.hop_s)))
    extra = tuple((a * f.hop_s, b * f.hop_s) for a, b in extras if (b - a) * f.hop_s >= p.extra_min_s - 1e-9)
    return Alignment(tuple(out), extra, "hmm")
