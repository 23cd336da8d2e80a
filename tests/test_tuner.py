"""The tuner's arithmetic (musicdesk.tuner) and the metronome's clicks through a take."""
from __future__ import annotations

import numpy as np
import pytest

from musicdesk import metronome
from musicdesk.score import example_score_path, load_score
from musicdesk.tuner import drone_samples, midi_hz, steady_midi, tuning


def test_tuning_names_the_nearest_note_and_its_cents_against_the_reference():
    assert tuning(69.0) == (69, 0.0)
    n, c = tuning(69.2)
    assert n == 69 and c == pytest.approx(20.0)
    n, c = tuning(68.6)
    assert n == 69 and c == pytest.approx(-40.0)
    # at A4 = 442 Hz, a 440 Hz A is about 7.85 cents flat
    n, c = tuning(69.0, 442.0)
    assert n == 69 and c == pytest.approx(-1200 * np.log2(442 / 440), abs=1e-9)
    assert midi_hz(69, 442.0) == 442.0 and midi_hz(81) == pytest.approx(880.0)


def test_steady_midi_needs_most_frames_voiced_and_ignores_a_stray_frame():
    assert steady_midi(np.array([np.nan] * 7)) is None
    assert steady_midi(np.array([69.0, np.nan, np.nan, np.nan, np.nan, 69.1, np.nan])) is None
    assert steady_midi(np.array([69.0, 69.1, 80.0, 69.05, 69.0, 69.1, 69.0])) == pytest.approx(69.05)


def test_the_drone_is_whole_cycles_at_its_pitch_and_loops_without_a_click():
    sr = 44100
    x = drone_samples(440.0, sr)
    spec = np.abs(np.fft.rfft(np.tile(x, 3)))
    f = np.fft.rfftfreq(3 * len(x), 1 / sr)[np.argmax(spec)]
    assert f == pytest.approx(440.0, abs=0.6)
    jump = abs(float(x[0]) - float(x[-1]))
    assert jump < 2 * np.max(np.abs(np.diff(x)))          # the wrap is no bigger than a step inside it
    assert np.max(np.abs(x)) <= 0.25 + 1e-6


def test_take_clicks_count_in_then_every_beat_of_the_score_with_downbeats_accented():
    score = load_score(example_score_path(), tempo_bpm=120)        # 3/4 with a one-beat pickup
    times, accents = metronome.take_click_times_s(score, 4, through_take=False)
    assert np.allclose(times, [0, 0.5, 1.0, 1.5]) and list(accents) == [True, False, False, False]
    times, accents = metronome.take_click_times_s(score, 4, through_take=True)
    lead = metronome.count_in_s(120, 4)
    beats = times[4:] - lead
    assert np.allclose(np.diff(beats), 0.5)                         # every quarter at 120 bpm
    assert beats[-1] <= score.duration_s and beats[-1] > score.duration_s - 0.5 - 1e-9
    downbeats = [n.onset_s for n in score.notes if n.beat == 1.0]
    accented = beats[accents[4:]]
    assert np.allclose(accented, sorted(set(downbeats)))
    track = metronome.render_clicks(times, accents, 44100)
    assert len(track) >= int(times[-1] * 44100)


def test_take_clicks_follow_a_tempo_change_in_the_score():
    from musicdesk.score import Score, ScoreNote

    # 4 quarter notes at 60 bpm, then 4 at 120 bpm
    onsets = [0.0, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 5.5]
    notes = tuple(ScoreNote(f"n{i}", f"n{i}", i, 60, 60, float(i), 1.0, t, 0.5 if i >= 4 else 1.0, 1 + i // 4,
                            1.0 + i % 4) for i, t in enumerate(onsets))
    score = Score("t", ("p",), "p", notes, 60.0, 6.0)
    times, _ = metronome.take_click_times_s(score, 0, through_take=True)
    assert np.allclose(times, onsets)
