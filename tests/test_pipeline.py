"""End to end on rendered takes: inject known mistakes, and the report must find exactly those.

Takes are rendered with FluidSynth from the bundled example score through the simulated player
(musicdesk.simulate), so the truth is known note by note.
"""
from __future__ import annotations

import numpy as np
import pytest

from musicdesk.analysis import AnalysisError, analyze
from musicdesk.audio import Take
from musicdesk.score import example_score_path, load_score
from musicdesk.simulate import Errors, perform
from musicdesk.synth import render_notes


@pytest.fixture(scope="module")
def score():
    return load_score(example_score_path())


def run(score, errors=Errors(), program="clarinet", noise_db=None, **kw):
    notes, truth = perform(score.notes, errors, **kw)
    take = render_notes(notes, program)
    if noise_db is not None:
        rng = np.random.default_rng(0)
        take = Take((take.samples + 10 ** (noise_db / 20) * rng.standard_normal(len(take.samples))).astype(np.float32),
                    take.sr)
    return analyze(score, take).report, truth


def problems(report):
    return {
        "wrong": [r.index for r in report.notes if r.status == "wrong_pitch"],
        "missed": [r.index for r in report.notes if r.status == "missed"],
        "out_of_tune": [r.index for r in report.notes if r.intonation in ("sharp", "flat")],
        "mistimed": [r.index for r in report.notes if r.timing in ("early", "late")],
        "extra": len(report.extra_notes),
    }


CLEAN = {"wrong": [], "missed": [], "out_of_tune": [], "mistimed": [], "extra": 0}


def pick(score, fraction):
    """A note index well inside the piece, away from the ends, whose neighbours differ in pitch."""
    n = len(score.notes)
    i = max(3, min(n - 4, int(n * fraction)))
    while i < n - 4 and (score.notes[i].midi in (score.notes[i - 1].midi, score.notes[i + 1].midi)
                         or score.notes[i].duration_s < 0.2):
        i += 1
    return i


def test_clean_take_has_no_false_alarms(score):
    report, _ = run(score)
    assert problems(report) == CLEAN
    assert report.ratings["note_accuracy"] == 1.0


def test_injected_errors_are_found_exactly(score):
    iw, iflat, ilate, imiss, iextra = (pick(score, f) for f in (0.15, 0.3, 0.45, 0.6, 0.75))
    wrong = score.notes[iw].midi + 2
    extra_midi = score.notes[iextra].midi + 5
    errs = Errors(wrong_midi={iw: wrong}, detune_cents={iflat: -40}, shift_ms={ilate: 150},
                  missed=frozenset({imiss}), extra_after={iextra: extra_midi})
    report, truth = run(score, errs)
    p = problems(report)
    assert p["wrong"] == [iw]
    assert report.notes[iw].played_midi == pytest.approx(wrong, abs=0.3)
    assert p["missed"] == [imiss]
    assert p["out_of_tune"] == [iflat]
    assert report.notes[iflat].intonation == "flat" and report.notes[iflat].cents == pytest.approx(-40, abs=8)
    assert p["mistimed"] == [ilate]
    assert report.notes[ilate].timing == "late"
    assert report.notes[ilate].timing_error_ms == pytest.approx(150, abs=30)
    assert p["extra"] == 1
    ex = report.extra_notes[0]
    assert ex.midi == pytest.approx(extra_midi, abs=0.5)
    assert ex.onset_s == pytest.approx(truth.extra[0][0], abs=0.06)


def test_late_start_with_noise_and_slow_tempo(score):
    report, truth = run(score, tempo_factor=0.9, lead_s=3.0, noise_db=-45)
    assert problems(report) == CLEAN
    onsets = np.array([r.onset_s for r in report.notes])
    true = np.array([truth.onset_s[r.index] for r in report.notes])
    assert np.percentile(np.abs(onsets - true), 90) < 0.05


def test_starting_late_in_the_piece_and_stopping_early(score):
    n = len(score.notes)
    first, last = 4, n - 6
    report, _ = run(score, first=first, last=last)
    missed = [r.index for r in report.notes if r.status == "missed"]
    assert missed == list(range(first)) + list(range(last + 1, n))
    assert report.summary["first_played_index"] == first and report.summary["last_played_index"] == last
    assert report.ratings["note_accuracy"] == 1.0


def test_silent_take_is_a_clear_error(score):
    with pytest.raises(AnalysisError, match="silent"):
        analyze(score, Take(np.zeros(22050 * 3, dtype=np.float32), 22050))


def test_take_of_another_piece_is_flagged(score):
    other = [n.__class__(**{**n.__dict__, "midi": 50 + (n.index * 7) % 19}) for n in score.notes]
    notes, _ = perform(other)
    report = analyze(score, render_notes(notes, "clarinet")).report
    assert report.ratings["note_accuracy"] < 0.5
    assert any("match the score" in w or "found" in w for w in report.warnings)


@pytest.mark.parametrize("neighbour", [+1, -1], ids=["anticipates_next", "holds_previous"])
def test_wrong_note_at_a_neighbours_pitch(score, neighbour):
    """Playing the next note's pitch too soon (or holding the previous one) is a wrong note, not a
    missed note with its neighbour started early / held long."""
    i = pick(score, 0.4)
    wrong = score.notes[i + neighbour].midi
    report, truth = run(score, Errors(wrong_midi={i: wrong}))
    p = problems(report)
    assert p["wrong"] == [i] and p["missed"] == [] and p["mistimed"] == [] and p["extra"] == 0
    assert report.notes[i].played_midi == pytest.approx(wrong, abs=0.3)
    assert report.notes[i].onset_s == pytest.approx(truth.onset_s[i], abs=0.05)
    assert report.notes[i + 1].onset_s == pytest.approx(truth.onset_s[i + 1], abs=0.05)


@pytest.mark.parametrize("part,program", [("Clarinet in B-flat", "clarinet"), ("Alto Saxophone", "alto_sax")])
def test_transposing_instrument_is_judged_at_concert_pitch(part, program):
    """A B-flat clarinet / E-flat alto sax part: the take sounds at concert pitch and must come out clean;
    playing the written pitches as if they sounded is a whole tone / major sixth off: at most half of the
    notes can then match (in a stepwise phrase a note a tone up is its neighbour's pitch)."""
    path = str(example_score_path()).replace("default_example_melody", "example_transposing")
    sc = load_score(path, part)
    assert all(n.written_midi - n.midi == (2 if "Clarinet" in part else 9) for n in sc.notes)
    notes, _ = perform(sc.notes)
    report = analyze(sc, render_notes(notes, program)).report
    assert problems(report) == CLEAN
    assert [r.status for r in report.notes] == ["correct"] * len(sc.notes)
    written = [n.__class__(**{**n.__dict__, "midi": n.written_midi}) for n in sc.notes]
    notes, _ = perform(written)
    report = analyze(sc, render_notes(notes, program)).report
    assert report.summary["n_correct"] <= len(sc.notes) // 2
    assert report.ratings["note_accuracy"] < 1.0


CHROMATIC = "G3 F#3 F3 E3 D3 E3 F3 F#3 G3 A3 G3 F#3 F3 E3 E-3 D3 D3 E3 F#3 G3 G#3 A3 B-3 A3 G3"


@pytest.mark.parametrize("cents", [55.0, -45.0])
def test_a_chromatic_line_played_near_a_quarter_tone_off_is_aligned_at_its_own_tuning(tmp_path, cents):
    """A player 20 cents sharp, detuned 35 more (issue 15): at +55 cents each note of a chromatic line
    sounds 45 cents below the next semitone, and the aligner lined each score note up with the note
    played before it (16 of 25 right). Aligned at the take's own tuning, every note is right again and
    the offset is reported."""
    import music21

    from training.damage import detune_take

    part = music21.stream.Part()
    part.append(music21.tempo.MetronomeMark(number=72))
    for name in CHROMATIC.split():
        part.append(music21.note.Note(name, quarterLength=1.0))
    path = tmp_path / "chromatic.musicxml"
    music21.stream.Score([part]).write("musicxml", fp=str(path))
    score = load_score(path)
    notes, _ = perform(score.notes, Errors(), lead_s=0.5)
    take = render_notes(notes, "bassoon")
    clean = analyze(score, take).report
    assert clean.ratings["note_accuracy"] == 1.0
    rep = analyze(score, Take(detune_take(take.samples, take.sr, cents), take.sr)).report
    assert sum(r.status == "correct" for r in rep.notes) == len(score.notes), \
        [(r.index, r.status, r.cents) for r in rep.notes if r.status != "correct"]
    assert rep.summary["tuning_offset_cents"] == pytest.approx(cents, abs=8)
    assert rep.ratings["intonation"] < clean.ratings["intonation"]


def test_a_take_a_little_sharp_is_aligned_at_its_own_tuning(score):
    """The alignment reads the take at its own tuning (issue 15): the same take detuned by +12 cents
    gives the same onsets (median within one 10 ms frame, none more than 5 frames off: the detuning
    resamples the attacks) and every note right."""
    from musicdesk.align import align
    from musicdesk.pitch import track_pitch
    from musicdesk.take_checks import contour_tuning_cents
    from training.damage import detune_take

    notes, _ = perform(score.notes, Errors(), lead_s=0.5)
    take = render_notes(notes, "clarinet")
    sharp = Take(detune_take(take.samples, take.sr, 12.0), take.sr)
    c0, c1 = track_pitch(take), track_pitch(sharp)
    assert abs(contour_tuning_cents(c1) - contour_tuning_cents(c0) - 12.0) < 4.0
    a0, a1 = align(score, c0, take), align(score, c1, sharp)
    on0 = np.array([n.onset_s for n in a0.notes], dtype=float)
    on1 = np.array([n.onset_s for n in a1.notes], dtype=float)
    assert np.nanmedian(np.abs(on0 - on1)) <= 0.0101 and np.nanmax(np.abs(on0 - on1)) < 0.051
    rep = analyze(score, sharp).report
    assert rep.ratings["note_accuracy"] == 1.0
