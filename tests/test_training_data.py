"""The training-data generator: the labelling rubric, the simulated student, the room, one take end to end."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from training.melodies import Melody, fit_to_duration, generated_etudes, parse_abc_tune, split_of
from training.room import room
from training.student import (HOLD_S, LABEL_KEYS, ErrorLog, NoteLog, StudentParams, labels, phrase_ends, play,
                              sample_params, transpose_into_range)


def _log(n: int = 10, wrong: int = 0, missed: int = 0, cents: float = 0.0, dev_ms: float = 0.0,
         drift_ms: float = 0.0, **counts) -> ErrorLog:
    """A hand-made log: the first `wrong` notes a semitone off, the next `missed` notes left out; every
    played note `dev_ms` off its local pulse, which is `drift_ms` off the take's steady tempo."""
    notes = []
    for i in range(n):
        if wrong <= i < wrong + missed:
            notes.append(NoteLog(i, 60, False))
        else:
            notes.append(NoteLog(i, 60, True, 61 if i < wrong else 60, cents, 0.5 * i, dev_ms + drift_ms,
                                 dev_ms, drift_ms))
    return ErrorLog(tuple(notes), **counts)


def test_rubric_clean_take_is_all_ones():
    assert labels(_log()) == {"note_accuracy": 1.0, "rhythmic_accuracy": 1.0, "intonation": 1.0}


def test_rubric_note_accuracy():
    assert labels(_log(wrong=3))["note_accuracy"] == pytest.approx(0.7)
    # 1 missed + 2 extra (half weight each) of 10
    assert labels(_log(missed=1, n_extra=2))["note_accuracy"] == pytest.approx(0.8)
    assert labels(_log(wrong=8, n_extra=10))["note_accuracy"] == 0.0  # clipped


def test_rubric_rhythmic_accuracy():
    # 0.7 x note timing (250 ms off the local pulse scores 0) + 0.3 x steadiness (500 ms of drift scores 0)
    assert labels(_log(dev_ms=125.0))["rhythmic_accuracy"] == pytest.approx(0.7 * 0.5 + 0.3)
    assert labels(_log(dev_ms=-300.0))["rhythmic_accuracy"] == pytest.approx(0.3)
    assert labels(_log(drift_ms=250.0))["rhythmic_accuracy"] == pytest.approx(0.7 + 0.3 * 0.5)
    assert labels(_log(dev_ms=-300.0, drift_ms=600.0))["rhythmic_accuracy"] == 0.0
    assert labels(_log(n_hesitations=2))["rhythmic_accuracy"] == pytest.approx(0.9)
    assert labels(_log(dev_ms=125.0, n_hesitations=2, n_restarts=1))["rhythmic_accuracy"] == pytest.approx(0.47)
    assert labels(_log(n_restarts=20))["rhythmic_accuracy"] == 0.0


def test_onset_deviations_separate_a_misplaced_note_from_a_tempo_change():
    from training.student import onset_deviations

    beats = np.arange(40, dtype=float)
    steady = 0.5 * beats
    dev, local, drift = onset_deviations(beats, steady)
    assert not dev.any() and not local.any() and not drift.any()
    one_late = steady.copy()
    one_late[20] += 0.2
    dev, local, drift = onset_deviations(beats, one_late)
    assert local[20] == pytest.approx(200.0, abs=1.0)           # its own pulse leaves it out
    assert np.abs(np.delete(local, 20)).max() < 60.0 and np.abs(drift).max() < 60.0
    slower = np.where(beats < 20, 0.5 * beats, 10.0 + 0.6 * (beats - 20))   # the second half dragged
    dev, local, drift = onset_deviations(beats, slower)
    assert np.abs(drift).max() > 300.0                           # rushing and dragging show as drift ...
    assert np.median(np.abs(local)) < 1.0                        # ... not as misplaced notes


def test_rubric_intonation_counts_right_notes_only():
    assert labels(_log(cents=25.0))["intonation"] == pytest.approx(0.5)
    assert labels(_log(cents=-60.0))["intonation"] == 0.0
    log = _log(wrong=3, cents=10.0)
    assert labels(log)["intonation"] == pytest.approx(0.8)
    assert labels(_log(wrong=10))["intonation"] == 0.5  # no right note: undecided


# ----------------------------------------------------------------------------------------------------
# melodies


def test_parse_abc_tune_merges_ties_and_skips_chord_symbols():
    abc = "X:1\nT:t\nM:4/4\nL:1/8\nK:G\n" + "|\"G\"GABc d2-d2|" * 4 + "e4 z4|\n"
    mel = parse_abc_tune(abc, "x:t:0", "test")
    assert mel is not None
    assert mel.beats_per_measure == 4.0
    assert mel.midi[:5] == [67, 69, 71, 72, 74]
    assert mel.duration_beats[4] == pytest.approx(2.0)  # d2-d2 tied: one half note
    assert mel.n_notes == 21


def test_split_of_is_stable_and_roughly_80_10_10():
    assert split_of("etude-3") == split_of("etude-3")
    splits = [split_of(f"etude-{k}") for k in range(2000)]
    share = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
    assert 0.75 < share["train"] < 0.85 and 0.07 < share["val"] < 0.13 and 0.07 < share["test"] < 0.13


def test_etudes_are_deterministic_monophonic_melodies():
    a, b = generated_etudes(5, seed=1), generated_etudes(5, seed=1)
    assert a == b and [m.id for m in a] == [f"etude-{k}" for k in range(5)]
    for m in a:
        assert m.n_notes >= 16
        on, dur = np.array(m.onset_beats), np.array(m.duration_beats)
        assert np.all(np.diff(on) > 0) and np.all(on[:-1] + dur[:-1] <= on[1:] + 1e-9)


def test_fit_to_duration_repeats_short_and_cuts_long_tunes():
    short = Melody("s", "test", [60 + k % 5 for k in range(16)], [float(k) for k in range(16)], [1.0] * 16, 4.0)
    rep = fit_to_duration(short, 120.0, 25.0, 70.0)  # 8 s a pass
    assert 25.0 <= rep.end_beats * 0.5 <= 70.0 and rep.n_notes % 16 == 0
    long = Melody("l", "test", [60] * 200, [float(k) for k in range(200)], [1.0] * 200, 4.0)
    cut = fit_to_duration(long, 60.0, 25.0, 70.0)
    assert 25.0 <= cut.end_beats <= 70.0 and cut.n_notes % 4 == 0  # stops at a bar line


# ----------------------------------------------------------------------------------------------------
# the student


@pytest.fixture(scope="module")
def etude() -> Melody:
    return generated_etudes(1, seed=3)[0]


def _check_monophonic(performed):
    for a, b in zip(performed, performed[1:]):
        assert a.offset_s > a.onset_s and b.onset_s >= a.offset_s


def test_transpose_into_range_moves_by_octaves():
    assert transpose_into_range([60, 64, 67, 72], 36, 60) == -12
    assert transpose_into_range([60, 64, 67, 72], 72, 93) == 12


def test_clean_student_earns_full_marks(etude):
    score, performed, log = play(etude, 100.0, (55, 84), np.random.default_rng(0), StudentParams())
    assert labels(log) == {"note_accuracy": 1.0, "rhythmic_accuracy": 1.0, "intonation": 1.0}
    assert len(performed) == len(score.notes) == log.n_notes
    assert (score.notes[0].midi - etude.midi[0]) % 12 == 0  # moved by octaves only
    _check_monophonic(performed)


def test_student_is_deterministic_given_the_seed(etude):
    def take(seed):
        rng = np.random.default_rng(seed)
        return play(etude, 90.0, (55, 84), rng, sample_params(rng))

    a, b, c = take(5), take(5), take(6)
    assert a[1] == b[1] and a[2] == b[2]
    assert a[1] != c[1]


def test_student_errors_are_logged(etude):
    p = StudentParams(p_wrong=0.3, offset_cents=20.0, hesitations_per_min=6.0, restarts_per_min=3.0)
    score, performed, log = play(etude, 90.0, (55, 84), np.random.default_rng(2), p)
    _check_monophonic(performed)
    assert 0.15 < log.n_wrong / log.n_notes < 0.45
    assert log.n_restarts > 0 and log.n_abandoned > 0 and log.n_hesitations > 0
    assert all(n.cents == pytest.approx(20.0) for n in log.notes)
    # no jitter, no tempo swing: pauses are taken out, so every onset sits on the steady tempo
    assert max(abs(n.dev_ms) for n in log.notes) < 1.0
    lab = labels(log)
    assert lab["intonation"] == pytest.approx(0.6)
    assert lab["rhythmic_accuracy"] == pytest.approx(max(0.0, 1 - 0.05 * log.n_hesitations - 0.08 * log.n_restarts))


def test_misplaced_notes_move_single_onsets_and_cost_rhythm(etude):
    p = StudentParams(p_misplaced=0.3)
    score, performed, log = play(etude, 90.0, (55, 84), np.random.default_rng(3), p)
    _check_monophonic(performed)
    devs = np.abs([n.dev_ms for n in log.notes])
    moved = devs > 60.0
    assert 0.1 < moved.mean() < 0.5           # some notes, not all
    assert devs.max() <= 310.0 and np.median(devs) < 40.0  # the others stay near the steady tempo
    assert labels(log)["rhythmic_accuracy"] < 0.95 and labels(log)["note_accuracy"] == 1.0


def test_phrase_ends_are_rests_long_notes_on_bar_lines_and_four_bar_lines():
    # 4/4, quarters; bar 1 ends on a half note, bar 2 on a quarter before a rest, bars 3-4 run on in
    # quarters, bar 5 has a half note in mid-bar
    onsets = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19]
    durs = [1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1]
    m = Melody("t", "test", [60 + i % 5 for i in range(len(onsets))], [float(x) for x in onsets],
               [float(x) for x in durs], 4.0)
    assert phrase_ends(m) == [2, 5, 13]   # the half note at a bar line, before the rest, at bar line 4


def test_phrase_holds_are_played_but_not_graded(etude):
    ends = phrase_ends(etude)
    assert ends
    steady = StudentParams(articulation=0.9)
    _, plain, log0 = play(etude, 100.0, (55, 84), np.random.default_rng(4), steady)
    _, held, log1 = play(etude, 100.0, (55, 84), np.random.default_rng(4), replace(steady, p_phrase_hold=1.0))
    _check_monophonic(held)
    assert log1.n_holds == len(ends) and log0.n_holds == 0
    extra_s = held[-1].onset_s - plain[-1].onset_s
    assert HOLD_S[0] * len(ends) <= extra_s <= HOLD_S[1] * len(ends)
    # every note after a phrase end comes that much later, yet the take is graded as perfectly steady
    assert labels(log1) == labels(log0) == {"note_accuracy": 1.0, "rhythmic_accuracy": 1.0, "intonation": 1.0}
    # a hold sounds: every phrase-end note lasts its hold longer than when not held (a hesitation is silent)
    grown = [held[i].offset_s - held[i].onset_s - (plain[i].offset_s - plain[i].onset_s) for i in ends]
    assert min(grown) >= HOLD_S[0] - 1e-6


def test_hesitations_never_follow_a_phrase_end(etude):
    ends = set(phrase_ends(etude))
    p = StudentParams(hesitations_per_min=30.0)
    for seed in range(5):
        _, performed, log = play(etude, 100.0, (55, 84), np.random.default_rng(seed), p)
        assert log.n_hesitations > 0
        gaps = [b.onset_s - a.offset_s for a, b in zip(performed, performed[1:])]
        # a pause of 0.3 s or more only where a rest of the score or a hesitation is; none after a phrase end
        nominal = [etude.onset_beats[i + 1] - etude.onset_beats[i] - etude.duration_beats[i] for i in range(len(gaps))]
        paused = [i for i, (g, r) in enumerate(zip(gaps, nominal)) if g > 0.3 + r * 0.6 + 0.1]
        assert paused and not (set(paused) & ends)


def test_sample_params_switch_families_off_independently():
    ps = [sample_params(np.random.default_rng(k)) for k in range(400)]
    clean = np.array([[p.p_wrong == p.p_missed == p.p_extra == 0,
                       p.offset_cents == p.drift_cents_per_min == p.detune_sd_cents == p.p_bad_tuning == 0,
                       p.jitter_sd_ms == p.p_misplaced == p.tempo_swing == p.hesitations_per_min
                       == p.restarts_per_min == 0]
                      for p in ps])
    assert np.all((clean.mean(axis=0) > 0.25) & (clean.mean(axis=0) < 0.45))
    assert abs(np.corrcoef(clean.T.astype(float))[0, 1]) < 0.15


# ----------------------------------------------------------------------------------------------------
# the room


def test_room_keeps_length_and_is_finite():
    sr = 22050
    t = np.arange(int(2.3 * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = room(x, sr, np.random.default_rng(0))
    assert y.dtype == np.float32 and len(y) == len(x)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) == pytest.approx(0.5, abs=1e-6)
    assert np.array_equal(y, room(x, sr, np.random.default_rng(0)))
    assert len(room(np.zeros(100, np.float32), sr, np.random.default_rng(1))) == 100


# ----------------------------------------------------------------------------------------------------
# one take end to end


def test_one_take_end_to_end(tmp_path):
    from musicdesk.synth import available_soundfonts
    from training import make_data

    fonts = available_soundfonts()
    if not fonts:
        pytest.skip("no soundfont installed")
    mel = generated_etudes(1, seed=0)[0]
    mel = replace(mel, midi=mel.midi[:24], onset_beats=mel.onset_beats[:24], duration_beats=mel.duration_beats[:24])
    job = make_data.Job("test", 0, mel, "oboe", fonts[0], 123, str(tmp_path / "00000.npz"))
    row = make_data.run_job(job)
    assert row is not None and row["instrument"] == "oboe" and row["split"] == "test"
    with np.load(job.path, allow_pickle=False) as z:
        assert set(z.files) == {"contour_midi", "score_midi", "score_notes", "labels", "rule_ratings",
                                "note_onsets_s", "meta"}
        for k in ("contour_midi", "score_midi", "score_notes", "labels", "rule_ratings", "note_onsets_s"):
            assert z[k].dtype == np.float32
        # the aligner's onset of every score note (s), in order where found
        on = z["note_onsets_s"]
        assert len(on) == len(z["score_notes"]) and np.isfinite(on).mean() > 0.9
        assert np.all(np.diff(on[np.isfinite(on)]) > 0)
        assert z["labels"].shape == z["rule_ratings"].shape == (3,)
        assert np.all((z["labels"] >= 0) & (z["labels"] <= 1))
        assert np.all((z["rule_ratings"] >= 0) & (z["rule_ratings"] <= 1))
        meta = json.loads(str(z["meta"]))
        contour, score = z["contour_midi"], z["score_midi"]
        # MIDI, onset s, duration s of every score note (the etude is repeated to the take's length)
        assert z["score_notes"].shape == (meta["n_score_notes"], 3) and meta["n_score_notes"] % 24 == 0
    assert meta["melody_id"] == "etude-0" and meta["soundfont"] and "params" in meta and "counts" in meta
    assert contour.ndim == score.ndim == 1 and len(contour) > 100 and len(score) > 100
    assert np.mean(contour > 0) > 0.3 and np.all((score == 0) | ((score > 30) & (score < 100)))
    assert list(row["labels"]) == list(LABEL_KEYS)
    assert make_data.run_job(job) == row  # an existing take is reused, not made again


def test_holds_share_gives_players_who_hold_and_leaves_others_as_they_were():
    """`make_data --holds-share`: a take drawn to hold gets p_phrase_hold in HOLD_P, its other error
    levels the same as without the option (the draw comes after them)."""
    from musicdesk.synth import available_soundfonts
    from training import make_data

    fonts = available_soundfonts()
    if not fonts:
        pytest.skip("no soundfont installed")
    mel = generated_etudes(1, seed=0)[0]
    mel = replace(mel, midi=mel.midi[:24], onset_beats=mel.onset_beats[:24], duration_beats=mel.duration_beats[:24])
    plain = make_data.make_take(mel, "test", 123, "oboe", fonts[0])["meta"]["params"]
    held = make_data.make_take(mel, "test", 123, "oboe", fonts[0], holds_share=1.0)["meta"]["params"]
    assert plain["p_phrase_hold"] == 0.0
    assert make_data.HOLD_P[0] <= held["p_phrase_hold"] <= make_data.HOLD_P[1]
    assert {k: v for k, v in held.items() if k != "p_phrase_hold"} == {k: v for k, v in plain.items() if k != "p_phrase_hold"}


# ----------------------------------------------------------------------------------------------------
# known damage (the Bach10 check and its synthetic twin)


def _tone_notes(sr=22050):
    """Six 0.4 s tones with 0.1 s gaps: the audio and its (onset_s, offset_s)."""
    notes = [(0.5 * i, 0.5 * i + 0.4) for i in range(6)]
    y = np.zeros(int(3.2 * sr), dtype=np.float32)
    for k, (a, b) in enumerate(notes):
        t = np.arange(int(a * sr), int(b * sr)) / sr
        y[int(a * sr):int(b * sr)] = 0.3 * np.sin(2 * np.pi * (220 + 20 * k) * t)
    return y, notes, sr


def test_damage_cut_silences_notes_and_timing_keeps_the_length():
    from training.damage import damage

    y, notes, sr = _tone_notes()
    cut = damage(y, sr, notes, "cut", np.random.default_rng(0))
    silent = [float(np.abs(cut[int((a + 0.05) * sr):int((b - 0.05) * sr)]).max()) < 1e-6 for a, b in notes]
    assert 1 <= sum(silent) <= 2 and not silent[0] and not silent[-1]
    moved = damage(y, sr, notes, "timing", np.random.default_rng(0))
    assert len(moved) == len(y) and not np.allclose(moved, y)
    assert np.array_equal(damage(y, sr, notes, "wrong", np.random.default_rng(1)),
                          damage(y, sr, notes, "wrong", np.random.default_rng(1)))
    with pytest.raises(ValueError):
        damage(y, sr, notes, "reverse", np.random.default_rng(0))
