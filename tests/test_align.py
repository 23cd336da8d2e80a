"""Alignment of a score part to a take (musicdesk.align) on synthetic renders with known truth."""
from __future__ import annotations

import numpy as np
import pytest

from musicdesk.align import Alignment, align
from musicdesk.audio import Take
from musicdesk.pitch import PitchContour
from musicdesk.score import Score, ScoreNote
from musicdesk.simulate import Errors, perform
from musicdesk.synth import PerformedNote, render_notes

TOL_S = 0.03


def _contour(take: Take) -> PitchContour:
    """The project's tracker when there is one; else librosa.yin with energy/stability voicing."""
    try:
        from musicdesk.pitch import track_pitch
    except ImportError:
        track_pitch = None
    if track_pitch is not None:
        return track_pitch(take)
    import librosa

    hop = int(round(0.01 * take.sr))
    f0 = librosa.yin(take.samples, fmin=55, fmax=1800, sr=take.sr, frame_length=2048, hop_length=hop)
    rms = librosa.feature.rms(y=take.samples, frame_length=2048, hop_length=hop)[0]
    db = 20 * np.log10(rms + 1e-9)
    db -= np.percentile(db, 95)
    m = 69 + 12 * np.log2(f0 / 440.0)
    stable = np.ones(len(m), bool)
    for k in (-2, -1, 1, 2):
        stable &= np.abs(np.roll(m, k) - m) < 0.5
    voiced = (db > -35) & stable
    return PitchContour(np.arange(len(f0)) * hop / take.sr, np.where(voiced, f0, 0.0), voiced,
                        voiced.astype(float), hop / take.sr, "yin")


def _melody(n: int = 30, seed: int = 1, bpm: float = 100.0) -> Score:
    """A random stepwise melody with repeated notes (seed 1 has six same-pitch repeats)."""
    rng = np.random.default_rng(seed)
    notes, beat, m, spb = [], 0.0, 67, 60.0 / bpm
    for i in range(n):
        if not (rng.random() < 0.2 and i > 0):
            m = int(np.clip(m + rng.choice([-4, -3, -2, -1, 1, 2, 3, 5]), 58, 79))
        d = float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
        notes.append(ScoreNote(id=f"n{i}", element_id=f"n{i}", index=i, midi=m, written_midi=m, onset_beats=beat,
                               duration_beats=d, onset_s=beat * spb, duration_s=d * spb,
                               measure=int(beat // 4) + 1, beat=beat % 4 + 1))
        beat += d
    return Score(title="t", parts=("p",), part="p", notes=tuple(notes), tempo_bpm=bpm, duration_s=beat * spb)


SCORE = _melody()
REPEATS = [i for i in range(1, len(SCORE.notes)) if SCORE.notes[i].midi == SCORE.notes[i - 1].midi]


def _run(performed, truth_onsets, take: Take | None = None) -> tuple[Alignment, np.ndarray]:
    take = take or render_notes(performed, "clarinet")
    al = align(SCORE, _contour(take), take)
    assert len(al.notes) == len(SCORE.notes)
    assert [n.index for n in al.notes] == [n.index for n in SCORE.notes]
    found = [n.onset_s for n in al.notes if n.onset_s is not None]
    assert all(b > a for a, b in zip(found, found[1:])), "onsets must increase"
    for n in al.notes:
        if n.onset_s is not None:
            assert n.offset_s is not None and n.offset_s > n.onset_s
    err = np.array([np.inf if al.notes[i].onset_s is None else al.notes[i].onset_s - t
                    for i, t in sorted(truth_onsets.items())])
    return al, err


def test_clean_take_onsets_within_30ms_including_repeated_notes():
    assert len(REPEATS) >= 4  # the melody really has same-pitch neighbours
    pn, tr = perform(SCORE.notes)
    al, err = _run(pn, tr.onset_s)
    assert np.all(np.abs(err) <= TOL_S), err
    assert al.extra == ()
    assert al.method == "hmm"


@pytest.mark.parametrize("factor", [0.7, 1.3])
def test_tempo_far_from_marking(factor):
    pn, tr = perform(SCORE.notes, tempo_factor=factor)
    _, err = _run(pn, tr.onset_s)
    assert np.all(np.abs(err) <= TOL_S), err


def test_gradual_tempo_drift():
    # tempo falls steadily from 1.25x to 0.75x the marking over the piece
    end = SCORE.duration_s
    def warp(t):  # performed time of score time t: integral of 1/tempo
        a, b = 1 / 1.25, 1 / 0.75
        return 1.0 + a * t + (b - a) * t * t / (2 * end)
    pn = [PerformedNote(warp(n.onset_s), warp(n.onset_s) + 0.92 * (warp(n.offset_s) - warp(n.onset_s)), n.midi)
          for n in SCORE.notes]
    truth = {n.index: warp(n.onset_s) for n in SCORE.notes}
    _, err = _run(pn, truth)
    assert np.all(np.abs(err) <= TOL_S), err


def test_fermatas_and_breaths():
    # every 6th note held 2.2x its length, then a 0.3 s breath (chorale style); several are followed by
    # a note of the same pitch, which a too-strong duration prior would cut into the held note
    pn, truth, t = [], {}, 1.0
    for n in SCORE.notes:
        d = n.duration_s * (2.2 if n.index % 6 == 5 else 1.0)
        truth[n.index] = t
        pn.append(PerformedNote(t, t + 0.97 * d, n.midi))
        t += d + (0.3 if n.index % 6 == 5 else 0.0)
    _, err = _run(pn, truth)
    assert np.all(np.abs(err) <= TOL_S), err


@pytest.mark.parametrize("lead", ["silence", "noise"])
def test_two_seconds_before_first_note(lead):
    pn, tr = perform(SCORE.notes, lead_s=2.0)
    take = render_notes(pn, "clarinet")
    if lead == "noise":
        rng = np.random.default_rng(0)
        y = take.samples.copy()
        y[: 2 * take.sr] += (0.05 * rng.standard_normal(2 * take.sr)).astype(np.float32)
        take = Take(y, take.sr)
    _, err = _run(pn, tr.onset_s, take)
    if lead == "silence":
        assert np.all(np.abs(err) <= TOL_S), err
    else:  # noise raises the onset detector's normalisation: one re-attack lands ~33 ms late
        assert np.mean(np.abs(err) <= TOL_S) >= 0.95 and np.all(np.abs(err) <= 0.05), err


def test_late_start_skips_first_notes():
    pn, tr = perform(SCORE.notes, first=5)
    al, err = _run(pn, tr.onset_s)
    assert all(al.notes[i].onset_s is None and al.notes[i].offset_s is None for i in range(5))
    assert np.all(np.abs(err) <= TOL_S), err


def test_stopping_early_leaves_last_notes_unplayed():
    pn, tr = perform(SCORE.notes, last=21)
    al, err = _run(pn, tr.onset_s)
    assert all(al.notes[i].onset_s is None for i in range(22, len(SCORE.notes)))
    assert np.all(np.abs(err) <= TOL_S), err


def test_wrong_note_is_still_aligned_in_place():
    i = 10
    pn, tr = perform(SCORE.notes, Errors(wrong_midi={i: SCORE.notes[i].midi - 5}))
    al, err = _run(pn, tr.onset_s)
    assert al.notes[i].onset_s is not None
    assert np.all(np.abs(err) <= TOL_S), err


def test_missed_note():
    i = 11
    pn, tr = perform(SCORE.notes, Errors(missed=frozenset({i})))
    al, err = _run(pn, tr.onset_s)
    assert al.notes[i].onset_s is None
    assert np.all(np.abs(err) <= TOL_S), err  # all played notes, neighbours included


def test_extra_inserted_note_is_reported():
    # note 12's neighbours differ in pitch from it. (An extra note right after the first of two
    # same-pitch notes can be read as "repeat merged + wrong note" instead: a known ambiguity.)
    i = 12
    assert SCORE.notes[i].midi not in (SCORE.notes[i - 1].midi, SCORE.notes[i + 1].midi)
    pn, tr = perform(SCORE.notes, Errors(extra_after={i: 80}))
    al, err = _run(pn, tr.onset_s)
    (x_on, x_off, _), = tr.extra
    hits = [(a, b) for a, b in al.extra if a < x_off and b > x_on]
    assert len(hits) == 1 and abs(hits[0][0] - x_on) <= 0.06, al.extra
    assert all(b - a >= 0.06 for a, b in al.extra), al.extra
    assert np.all(np.abs(err) <= TOL_S), err


def test_silent_take_and_empty_score():
    take = Take(np.zeros(22050 * 2, np.float32), 22050)
    al = align(SCORE, _contour(take), take)
    assert len(al.notes) == len(SCORE.notes)
    empty = Score(title="", parts=(), part="", notes=(), tempo_bpm=100.0, duration_s=0.0)
    assert align(empty, _contour(take), take).notes == ()


# --------------------------------------------------------------------------- bowed strings
# FluidSynth violin takes bowed the way a player bows (tests/synthetic_takes.py): soft slow attacks,
# slurs with slides, vibrato, noisy and soft bow starts, breaths before runs of repeated notes and
# phrase-end holds. Each reproduces a failure measured on real violin takes (issue 15): onsets early at
# slurs and soft starts, late at noisy starts, runs of repeated notes shifted by a note after a breath.

def _bowed(seed: int, **style) -> np.ndarray:
    from synthetic_takes import bowed_take, chorale_score, render_bowed

    score = chorale_score(seed=seed, n_phrases=5)
    notes, truth = bowed_take(score, seed=seed, **style)
    take = render_bowed(notes, seed=seed)
    al = align(score, _contour(take), take)
    found = [n.onset_s for n in al.notes if n.onset_s is not None]
    assert all(b > a for a, b in zip(found, found[1:])), "onsets must increase"
    return np.array([np.inf if al.notes[i].onset_s is None else al.notes[i].onset_s - t
                     for i, t in sorted(truth.items())])


@pytest.mark.parametrize("seed", [1, 3])
def test_bowed_slur_onset_is_where_the_new_pitch_arrives(seed):
    # 60% of the notes slurred (the pitch changes without a re-attack), sliding there over 20-80 ms:
    # the note begins where its pitch is reached, not where the slide (or a vibrato swell) starts
    err = _bowed(seed, legato_p=0.6, glide_s=(0.02, 0.08))
    assert np.all(np.abs(err) <= 0.05), err


@pytest.mark.parametrize("seed", [0, 1])
def test_bowed_noisy_start_is_part_of_the_note(seed):
    # bow noise over the first 0.1-0.2 s of 60% of the strokes, the pitch steady under it: the tracker
    # calls those frames unvoiced, yet the note has begun
    err = _bowed(seed, legato_p=0.2, noisy_p=0.6)
    assert np.all(np.abs(err) <= 0.04), err


@pytest.mark.parametrize("seed", [0, 3])
def test_soft_bow_start_after_a_breath_is_not_the_onset(seed):
    # every phrase starts, after a breath of 0.1-0.5 s, with the bow touching the string faintly
    # (14-28 dB down for 50-150 ms) before the stroke swells: the note begins with the swell
    err = _bowed(seed, legato_p=0.3, quiet_p=1.0, breath_s=(0.1, 0.5))
    assert np.all(np.abs(err) <= 0.05), err


@pytest.mark.parametrize("seed", [100, 103])
def test_breath_before_repeated_notes_and_phrase_end_holds(seed):
    # everything at once: phrase-end holds of 0.2-1.2 s, then a breath of 0.1-0.5 s before a run of
    # 2-3 repeated notes (soft or noisy starts, early-fingered pitches, slides); the repeated notes were
    # placed a note off (0.3-0.7 s) before the duration prior and the re-attack evidence
    err = _bowed(seed, legato_p=0.35, glide_s=(0, 0.06), early_pitch_s=(0.02, 0.05), early_p=0.5,
                 noisy_p=0.3, quiet_p=0.5, breath_s=(0.1, 0.5), hold_s=(0.2, 1.2))
    assert np.all(np.abs(err) <= 0.1), err
    assert np.mean(np.abs(err) <= 0.05) >= 0.95, err


@pytest.mark.parametrize("seed", [1, 3])
def test_scratchy_soft_bow_start_is_not_the_onset(seed):
    # after silence (the first note, a breath) 70% of the strokes start with 40-120 ms of aperiodic bow
    # scratch 18-30 dB down; half the phrases open with a faint touch of the bow before the swell as well:
    # the scratch fading out over the swell hides its attack, and the first note of seed 1 was placed
    # on the faint touch (-162 ms) before a steady quiet lead-in without a clear attack counted
    err = _bowed(seed, legato_p=0.35, glide_s=(0, 0.06), early_pitch_s=(0.02, 0.05), early_p=0.5,
                 noisy_p=0.3, quiet_p=0.3, scratch_p=0.7, breath_s=(0.1, 0.5), hold_s=(0.2, 1.2))
    assert np.all(np.abs(err) <= 0.05), err


@pytest.mark.parametrize("instrument", ["violin", "flute"])
def test_a_note_held_over_the_next_leaves_the_next_missed_not_a_wrong_pitch(instrument):
    """The player holds a note through the next one's time and never plays the next (no attack, no
    pitch change, no break): the next note is missed, and the held one keeps the whole stretch. Before,
    bowed renders read the second half as the next note played at the held pitch (12 of 12 such holds
    in the example melody; now 10 of 12, the other two have a re-attack-like swell in the render)."""
    from dataclasses import replace

    from musicdesk.analysis import analyze
    from musicdesk.score import example_score_path, load_score

    score = load_score(example_score_path())
    played, _ = perform(score.notes)
    for k in (2, 5, 11):         # held over a note of another pitch, itself followed by another pitch
        assert score.notes[k].midi != score.notes[k + 1].midi != score.notes[k + 2].midi
        notes = list(played)
        notes[k] = replace(notes[k], offset_s=notes[k + 1].offset_s)
        del notes[k + 1]
        rep = analyze(score, render_notes(notes, instrument)).report
        assert rep.notes[k].status == "correct" and rep.notes[k + 1].status == "missed", (k, rep.notes[k + 1])
        assert rep.notes[k].offset_s > played[k + 1].onset_s + 0.1


def test_a_wrong_note_played_again_at_the_pitch_before_is_still_a_wrong_note():
    """The same place played as a new note at the held pitch (a break and a fresh attack): a wrong
    note, as before."""
    from dataclasses import replace

    from musicdesk.analysis import analyze
    from musicdesk.score import example_score_path, load_score

    score = load_score(example_score_path())
    played, _ = perform(score.notes)
    for k in (2, 5, 11):
        notes = list(played)
        notes[k + 1] = replace(notes[k + 1], midi=notes[k].midi)
        rep = analyze(score, render_notes(notes, "violin")).report
        assert rep.notes[k + 1].status == "wrong_pitch", (k, rep.notes[k + 1])
        assert round(rep.notes[k + 1].played_midi) == score.notes[k].midi
