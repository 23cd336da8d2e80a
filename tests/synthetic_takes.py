"""Synthetic bowed-string takes with known truth, for the aligner's tests (tests/test_align.py).

A FluidSynth violin (General MIDI program 40) is driven the way a player bows, which plain note-on /
note-off renders do not do:

- a *stroke* is one bow: one FluidSynth note whose loudness follows a bow envelope applied to the
  rendered samples (the note starts `PRE_S` before the envelope opens, so the envelope alone shapes the
  attack): a soft, slow rise from silence (`attack_s`, raised cosine), a sustain, and a fall over the
  last `RELEASE_S` before the stroke's end;
- *legato* notes (slurred) are pitch changes inside a stroke, by pitch bend (range set to 12 semitones
  by RPN 0): no re-attack; with `glide_s` the pitch slides there (portamento);
- *vibrato* (5.5 Hz, +-25 cents, fading in after each note's start) is pitch bend too; through the
  instrument's spectrum it also moves the level by a few dB, as a real violin's body does;
- a *noisy* start (`noisy_s`): loud bow noise over the first 0.1-0.2 s of a stroke, the pitch steady
  under it: a pitch tracker may call those frames unvoiced (YIN aperiodicity about 0.2-0.35) although
  the pitch is there;
- a *soft start* (`quiet_s`): after a breath the bow may touch the string very lightly first: the
  pitch sounds `quiet_db` (14-28 dB) below the sustained level for `quiet_s`, then the stroke swells;
- a *scratchy* start (`scratch_s`): a bow set on the string from silence grinds before the string
  catches: `scratch_s` of aperiodic bow noise (broadband, 300 Hz-8 kHz, `scratch_db` below the sustained
  level, no pitch a tracker could follow) before the tone's rise, fading out over the first half of it;
- *early pitch* (`early_pitch_s`): at a bow change, the finger moves to the new note before the new
  stroke starts: the last `early_pitch_s` of the fading old stroke already has the new pitch, so the
  pitch track shows the new note before its energy rises.

Truth (`Bowed.onset_s`): where the note's pitch is established with its own energy:
- a new stroke: where its rise starts (noisy or not), the physical onset, as in the plain note-on
  renders of the other tests (their truth is the note-on);
- a legato note: where its pitch is reached (the end of the glide);
- an early-pitch note or a soft start: where its stroke's energy rises (the new pitch sounding quietly
  at the end of the old stroke, or a faint touch of the bow, is not yet the note);
- a scratchy start: where the tone's rise starts (the scratch before it has no pitch to annotate).
A ground truth made from an F0 annotation (as Bach10's) means the same: where the annotated pitch starts.

`chorale_score` makes a chorale-like melody (phrases ending in long notes, runs of repeated notes);
`bowed_take` plays a score with breaths before repeated-note runs and holds at phrase ends.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from musicdesk.audio import ANALYSIS_SR, Take
from musicdesk.score import Score, ScoreNote

VIOLIN = 40
BEND_RANGE_SEMITONES = 12
VIBRATO_HZ = 5.5
VIBRATO_SEMITONES = 0.25
RELEASE_S = 0.05      # a stroke's envelope falls to silence over this long before its end
PRE_S = 0.1           # a stroke's FluidSynth note starts this long before its envelope opens
STEP_S = 0.003        # pitch-bend update step
NOISY_REL = 0.35      # noisy start: bow noise RMS relative to the stroke's sustained RMS


@dataclass(frozen=True)
class Bowed:
    """One performed note of a bowed take (times in seconds; see the module docstring for the truth)."""

    onset_s: float
    offset_s: float
    midi: int
    legato: bool = False          # slurred from the previous note: same stroke, the pitch changes
    glide_s: float = 0.0          # legato: the pitch slides over this long, arriving at onset_s
    attack_s: float = 0.08        # new stroke: rise time of the bow envelope (from silence)
    early_pitch_s: float = 0.0    # new stroke: the old stroke's last this-long has this note's pitch
    noisy_s: float = 0.0          # new stroke: loud bow noise over this long from its start (pitch steady)
    quiet_s: float = 0.0          # new stroke: sounds quiet_db down for this long before its rise ...
    quiet_db: float = -28.0       # ... (dB relative to the sustained level)
    scratch_s: float = 0.0        # new stroke: aperiodic bow noise for this long before its rise ...
    scratch_db: float = -24.0     # ... at this level (dB relative to the sustained level)
    cents: float = 0.0


def _strokes(notes: Sequence[Bowed]) -> list[list[Bowed]]:
    out: list[list[Bowed]] = []
    for n in notes:
        if n.legato and out:
            out[-1].append(n)
        else:
            out.append([n])
    return out


def _render_stroke(fs, key, stroke: list[Bowed], nxt: Bowed | None, sr: int, rng: np.random.Generator
                   ) -> tuple[int, np.ndarray]:
    """Render one stroke (`nxt`: the first note of the next stroke, for its early pitch);
    returns (start sample, samples)."""
    from scipy.signal import butter, lfilter

    from musicdesk import synth

    first, last = stroke[0], stroke[-1]
    rise0 = first.onset_s
    start_s = rise0 - first.quiet_s - first.scratch_s - PRE_S
    end_s = last.offset_s
    tail_s = 0.3
    n = int(np.ceil((end_s - start_s + tail_s) * sr))
    t = start_s + np.arange(n) / sr
    # pitch (MIDI) over time: legato changes (with glides), then the next stroke's early pitch
    pitch = np.full(n, float(first.midi))
    for prev, note in zip(stroke[:-1], stroke[1:]):
        g0 = note.onset_s - note.glide_s
        frac = np.clip((t - g0) / max(note.glide_s, 1e-6), 0.0, 1.0)
        pitch = np.where(t >= g0, prev.midi + frac * (note.midi - prev.midi), pitch)
    if nxt is not None and nxt.early_pitch_s > 0:
        pitch = np.where(t >= nxt.onset_s - nxt.early_pitch_s, float(nxt.midi), pitch)
    # vibrato: fades in from 0.12 s after each note's start over 0.2 s, random phase per note
    vib = np.zeros(n)
    bounds = [nt.onset_s for nt in stroke[1:]] + [end_s]
    for note, stop in zip(stroke, bounds):
        w = np.clip((t - note.onset_s - 0.12) / 0.2, 0.0, 1.0) * (t < stop)
        vib += w * VIBRATO_SEMITONES * np.sin(2 * np.pi * VIBRATO_HZ * t + rng.uniform(0, 2 * np.pi))
    cents = np.full(n, first.cents / 100.0)
    for note in stroke[1:]:
        cents = np.where(t >= note.onset_s, note.cents / 100.0, cents)
    bend_st = np.clip(pitch - first.midi + vib + cents, -BEND_RANGE_SEMITONES, BEND_RANGE_SEMITONES)
    ch = 0
    fs.system_reset()
    fs.program_select(ch, synth._synth(*key)[1], 0, VIOLIN)
    for ctrl, val in ((101, 0), (100, 0), (6, BEND_RANGE_SEMITONES), (38, 0)):  # RPN 0: bend range
        fs.cc(ch, ctrl, val)
    synth._align_block(fs, key)
    out = np.zeros(n)
    step = max(1, int(round(STEP_S * sr)))
    noteoff_at = int(round((end_s - start_s) * sr))
    pos = 0
    while pos < n:
        fs.pitch_bend(ch, int(np.clip(round(bend_st[pos] / BEND_RANGE_SEMITONES * 8192), -8192, 8191)))
        if pos == 0:
            fs.noteon(ch, int(first.midi), 100)
        if pos <= noteoff_at < pos + step:
            fs.noteoff(ch, int(first.midi))
        m = min(step, n - pos)
        out[pos:pos + m] = synth._get(fs, key, m)
        pos += m
    fs.system_reset()
    synth._get(fs, key, int(0.3 * sr))
    # bow envelope: raised-cosine rise from silence, sustain, fall to silence over RELEASE_S before the end
    rise = np.clip((t - rise0) / max(first.attack_s, 1e-6), 0.0, 1.0)
    a0 = 10 ** (first.quiet_db / 20.0) if first.quiet_s > 0 else 0.0
    env = a0 + (1 - a0) * 0.5 * (1 - np.cos(np.pi * rise))
    env *= t >= rise0 - first.quiet_s
    env *= np.clip((end_s - t) / RELEASE_S, 0.0, 1.0)
    out *= env
    if first.noisy_s > 0:  # bow noise (1-7 kHz) following the envelope, for the stroke's first noisy_s
        bb, aa = butter(2, [1000 / (sr / 2), 7000 / (sr / 2)], btype="band")
        noise = lfilter(bb, aa, rng.standard_normal(n))
        level = np.sqrt(np.mean(out[(t > first.onset_s + 0.1) & (t < end_s)] ** 2) + 1e-12)
        w = NOISY_REL * level * env * ((t >= rise0) & (t < rise0 + first.noisy_s))
        out += w * noise / (np.std(noise) + 1e-12)
    if first.scratch_s > 0:  # aperiodic bow noise before the tone: on over 5 ms, off over half the rise
        bb, aa = butter(2, [300 / (sr / 2), min(8000, 0.45 * sr) / (sr / 2)], btype="band")
        noise = lfilter(bb, aa, rng.standard_normal(n))
        level = np.sqrt(np.mean(out[(t > first.onset_s + first.attack_s) & (t < end_s)] ** 2) + 1e-12)
        s0 = rise0 - first.scratch_s
        w = np.clip((t - s0) / 0.005, 0.0, 1.0) * np.clip(1.0 - (t - rise0) / max(0.5 * first.attack_s, 1e-3), 0.0, 1.0)
        out += 10 ** (first.scratch_db / 20.0) * level * w * noise / (np.std(noise) + 1e-12)
    return int(round(start_s * sr)), out


def render_bowed(notes: Sequence[Bowed], sr: int = ANALYSIS_SR, seed: int = 0) -> Take:
    """Render bowed notes (see `Bowed`) with the FluidSynth violin; peak-normalised to 0.5."""
    from musicdesk import synth

    key = (synth.default_soundfont(), sr)
    fs, _ = synth._synth(*key)
    rng = np.random.default_rng(seed)
    strokes = _strokes(notes)
    parts = [_render_stroke(fs, key, s, strokes[k + 1][0] if k + 1 < len(strokes) else None, sr, rng)
             for k, s in enumerate(strokes)]
    total = max((a + len(x) for a, x in parts), default=sr)
    y = np.zeros(total)
    for a, x in parts:
        lo = max(0, a)
        y[lo:a + len(x)] += x[lo - a:]
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0:
        y *= 0.5 / peak
    return Take(samples=y.astype(np.float32), sr=sr, path="")


# --------------------------------------------------------------------------- scores and performances

def chorale_score(n_phrases: int = 4, seed: int = 0, bpm: float = 84.0) -> Score:
    """A chorale-like melody: phrases of 6-9 notes (mostly quarters) ending in a long note with a
    fermata, stepwise with some repeated notes; every phrase after the first opens with a run of 2-3
    repeated notes (as chorale soprano lines often do after a breath)."""
    rng = np.random.default_rng(seed)
    spb = 60.0 / bpm
    notes: list[ScoreNote] = []
    beat, m = 0.0, 69
    for ph in range(n_phrases):
        length = int(rng.integers(6, 10))
        run = int(rng.integers(2, 4)) if ph > 0 else 0
        for k in range(length):
            last = k == length - 1
            if 0 < k < run:
                pass  # the run of repeated notes that opens the phrase
            elif not (notes and rng.random() < 0.2):
                step = int(rng.choice([-2, -1, 1, 2, -3, 3]))
                m = m + step if 62 <= m + step <= 79 else m - step  # stepwise, turning at the range's ends
            d = 2.0 if last else float(rng.choice([1.0, 1.0, 1.0, 0.5, 2.0]))
            i = len(notes)
            notes.append(ScoreNote(id=f"n{i}", element_id=f"n{i}", index=i, midi=m, written_midi=m,
                                   onset_beats=beat, duration_beats=d, onset_s=beat * spb, duration_s=d * spb,
                                   measure=int(beat // 4) + 1, beat=beat % 4 + 1, fermata=last))
            beat += d
    return Score(title="chorale", parts=("violin",), part="violin", notes=tuple(notes), tempo_bpm=bpm,
                 duration_s=beat * spb)


def bowed_take(score: Score, *, seed: int = 0, lead_s: float = 1.0, tempo_factor: float = 1.0,
               attack_s: tuple[float, float] = (0.06, 0.14), legato_p: float = 0.35,
               glide_s: tuple[float, float] = (0.0, 0.0), early_pitch_s: tuple[float, float] = (0.0, 0.0),
               early_p: float = 1.0, quiet_p: float = 0.0, quiet_s: tuple[float, float] = (0.05, 0.15),
               quiet_db: tuple[float, float] = (-28.0, -14.0),
               noisy_p: float = 0.0, noisy_s: tuple[float, float] = (0.1, 0.2),
               scratch_p: float = 0.0, scratch_s: tuple[float, float] = (0.04, 0.12),
               scratch_db: tuple[float, float] = (-30.0, -18.0),
               breath_s: tuple[float, float] = (0.0, 0.0), hold_s: tuple[float, float] = (0.0, 0.0),
               articulation: float = 0.97) -> tuple[list[Bowed], dict[int, float]]:
    """Play `score` bowed: returns the performed notes and the true onset of each score note.

    Each note is a new stroke (a rise of `attack_s`, drawn per note, with a noisy start of `noisy_s`
    with probability `noisy_p`) or, with probability `legato_p` when its pitch differs from the note
    before, slurred (with a glide of `glide_s`); repeated notes are always re-bowed. A new stroke after a
    different pitch has, with probability `early_p`, that pitch `early_pitch_s` early at the end of the
    old stroke; the first note and each phrase's first note start softly (`quiet_s` at `quiet_db`) with
    probability `quiet_p`, and after silence (the first note, a breath) with a scratch of `scratch_s` at
    `scratch_db` with probability `scratch_p`. Phrase-end (fermata) notes are held `hold_s` longer than written, then a breath
    (silence) of `breath_s` comes before the next phrase. Notes sound for `articulation` of their
    length (at least up to 15 ms before the next stroke starts).
    """
    rng = np.random.default_rng(seed)
    out: list[Bowed] = []
    held: list[float] = []        # sounding length of each note before the next stroke (written + hold)
    breaths: list[float] = []
    truth: dict[int, float] = {}
    t = lead_s
    notes = score.notes
    for i, n in enumerate(notes):
        dur = n.duration_s / tempo_factor
        phrase_end = n.fermata and i + 1 < len(notes)
        hold = float(rng.uniform(*hold_s)) if phrase_end else 0.0
        breath = float(rng.uniform(*breath_s)) if phrase_end else 0.0
        prev = notes[i - 1] if i else None
        slur = prev is not None and not prev.fermata and n.midi != prev.midi and rng.random() < legato_p
        att = float(rng.uniform(*attack_s))
        if slur:
            b = Bowed(t, 0.0, n.midi, legato=True, glide_s=float(rng.uniform(*glide_s)))
        else:
            early = (float(rng.uniform(*early_pitch_s)) if prev is not None and prev.midi != n.midi
                     and not prev.fermata and rng.random() < early_p else 0.0)
            noisy = float(rng.uniform(*noisy_s)) if rng.random() < noisy_p else 0.0
            soft = (float(rng.uniform(*quiet_s)) if (prev is None or prev.fermata) and rng.random() < quiet_p
                    else 0.0)
            scr = (float(rng.uniform(*scratch_s)) if (prev is None or (prev.fermata and breath_s[1] > 0))
                   and scratch_p > 0 and rng.random() < scratch_p else 0.0)
            b = Bowed(t, 0.0, n.midi, attack_s=att, early_pitch_s=early, noisy_s=noisy, quiet_s=soft,
                      quiet_db=float(rng.uniform(*quiet_db)), scratch_s=scr,
                      scratch_db=float(rng.uniform(*scratch_db)) if scr > 0 else -24.0)
        truth[n.index] = t
        out.append(b)
        held.append(dur + hold)
        breaths.append(breath)
        t += dur + hold + breath
    ends = []
    for k, b in enumerate(out):
        nxt = out[k + 1] if k + 1 < len(out) else None
        if nxt is not None and nxt.legato:
            ends.append(nxt.onset_s - nxt.glide_s)  # same stroke: the pitch moves on
        elif notes[k].fermata:
            # held (hold included), then the breath is silence
            if nxt is None:
                ends.append(b.onset_s + held[k])
            elif breaths[k] > 0:
                ends.append(min(b.onset_s + held[k], nxt.onset_s - nxt.quiet_s - nxt.scratch_s - 0.005))
            else:
                ends.append(min(b.onset_s + held[k], nxt.onset_s + 0.015))
        else:
            end = b.onset_s + articulation * held[k]
            ends.append(end if nxt is None else min(end, nxt.onset_s + 0.015))
    return [replace(b, offset_s=e) for b, e in zip(out, ends)], truth

