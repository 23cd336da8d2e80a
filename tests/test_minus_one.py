"""Minus-one practice: the core's echo cancellation (musicdesk.separate.minusone) on a rendered duo, and
end to end through the window and a real PortAudio input (tests/vmic.py): the app plays the other
part while a take of one part with injected mistakes is played into the microphone; the accompaniment
reaches the microphone too (through a delay line, as a speaker would), and the notes coloured wrong
must be exactly the injected ones."""
from __future__ import annotations


import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from musicdesk.audio import Take
from musicdesk.separate import minusone
from musicdesk.synth import PerformedNote, render_notes

BPM = 90.0
SR = 44100
# eight bars: a melody (violin) over a bass line (bassoon)
MELODY = [67, 69, 71, 72, 74, 72, 71, 69, 71, 67, 72, 71, 69, 67, 66, 67,
          74, 76, 74, 72, 71, 72, 74, 71, 69, 71, 72, 74, 72, 71, 69, 67]
BASS = [48, 55, 47, 52, 53, 50, 45, 43, 48, 52, 55, 50, 53, 50, 43, 48]
WRONG, FLAT, MISSED = 5, 12, 21


def duo_midi(path) -> str:
    pm = pretty_midi.PrettyMIDI(initial_tempo=BPM)
    spb = 60.0 / BPM
    for notes, dur, name, prog in ((MELODY, 1, "Violin", 40), (BASS, 2, "Bassoon", 70)):
        inst = pretty_midi.Instrument(program=prog, name=name)
        for i, m in enumerate(notes):
            inst.notes.append(pretty_midi.Note(90, m, i * dur * spb, (i + 1) * dur * spb - 0.02))
        pm.instruments.append(inst)
    pm.write(str(path))
    return str(path)


def test_accompaniment_leaves_out_my_part_and_keeps_the_others():
    stems = np.stack([np.ones(10, np.float32), 2 * np.ones(10, np.float32), 3 * np.ones(10, np.float32)])
    np.testing.assert_allclose(minusone.accompaniment(stems, 1), 4.0)
    np.testing.assert_allclose(minusone.accompaniment(stems, 0, [1, 0.5, 1]), 4.0)
    with pytest.raises(ValueError):
        minusone.accompaniment(stems, 3)
    acc = minusone.Accompaniment("Violin", np.ones(100, np.float32), 100, "test")
    ref = minusone.for_take(acc, 0.5, 100)
    assert len(ref) == 150 and not ref[:50].any() and ref[50:].all()


@pytest.fixture(scope="module")
def duo(tmp_path_factory):
    """The duo's score, its parts, the bassoon rendered as the app plays it, and a violin take."""
    from musicdesk.separate.core import load_parts

    d = tmp_path_factory.mktemp("duo")
    path = duo_midi(d / "duo.mid")
    scores = load_parts(path)
    played = minusone.rendered_accompaniment(scores, 0, SR)
    spb = 60.0 / BPM
    take = render_notes([PerformedNote(0.5 + i * spb, 0.5 + (i + 1) * spb - 0.03, m, 0.0, 90)
                         for i, m in enumerate(MELODY)], "flute", sr=SR, tail_s=0.5).samples
    return path, scores, played, take


def _mic(take: np.ndarray, echo_source: np.ndarray, delay_s: float, n: int, below_db: float = 0.0) -> np.ndarray:
    """n samples of microphone: the take, and `echo_source` arriving `delay_s` late, `below_db` under
    the take's level (cut, or padded with silence, to n)."""
    echo = np.concatenate([np.zeros(int(delay_s * SR), np.float32), echo_source.astype(np.float32)])[:n]
    echo = np.pad(echo, (0, n - len(echo)))
    mic = np.zeros(n, np.float32)
    mic[:min(n, len(take))] += take[:n]
    mic += echo * np.sqrt(np.mean(take ** 2) / np.mean(echo ** 2)) * 10 ** (-below_db / 20)
    return mic


def test_rendered_accompaniment_is_the_other_part(duo):
    _path, scores, played, _take = duo
    assert [sc.part for sc in scores] == ["Violin", "Bassoon"]
    from musicdesk.pitch import track_pitch

    c = track_pitch(Take(played, SR, ""))
    midi = c.midi[np.isfinite(c.midi)]
    assert len(midi) and np.median(midi) < 57          # the bass line, not the melody


def test_echo_of_the_accompaniment_is_taken_out_and_my_part_judged_as_alone(duo):
    """A room's echo of the bassoon (80 ms late, -3 dB against the take) in the microphone: raw, the
    violin is judged badly; cleaned, as well as alone (the margin measured: see the assertions)."""
    from scipy.signal import fftconvolve

    from musicdesk.analysis import analyze

    _path, scores, played, take = duo
    rng = np.random.default_rng(1)
    ir = np.zeros(int(0.08 * SR) + 4000)
    ir[int(0.08 * SR)] = 1.0
    ir[int(0.08 * SR) + 300:] += 0.05 * rng.standard_normal(3700) * np.exp(-np.arange(3700) / 800)
    echo = fftconvolve(played, ir)[:len(played)]
    n = max(len(take), len(echo))
    mic = np.zeros(n, np.float32)
    mic[:len(take)] += take
    gain = np.sqrt(np.mean(take ** 2) / np.mean(echo ** 2)) * 10 ** (-3 / 20)
    mic[:len(echo)] += gain * echo
    c = minusone.remove_accompaniment(mic, SR, played, expected_delay_s=0.05)
    assert abs(c.delay_s - 0.08) < 0.002 and len(c.samples) == len(mic)
    assert c.echo_reduction_db > 15

    def right(y) -> float:
        rep = analyze(scores[0], Take(np.asarray(y, np.float32), SR)).report
        return float(np.mean([x.status == "correct" for x in rep.notes]))

    alone, raw, cleaned = right(take), right(mic), right(c.samples)
    assert alone == 1.0 and cleaned == 1.0
    assert raw < 0.9, raw                                # what the cleaning is for


def test_nothing_played_leaves_the_take_as_it_was():
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    c = minusone.remove_accompaniment(x, SR, np.zeros(SR, np.float32))
    np.testing.assert_array_equal(c.samples, x)


# ---------------------------------------------------------------------------------------- end to end

pytest.importorskip("pytestqt")


@pytest.mark.timeout(360)
def test_minus_one_through_a_real_input_colours_exactly_the_injected_mistakes(qtbot, tmp_path, duo):
    from musicdesk.analysis import analyze
    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings
    from musicdesk.simulate import Errors, perform
    from vmic import VMIC_SR, CpuSteal, virtual_microphone

    path, scores, _played, _take = duo
    delay_s = 0.08
    with virtual_microphone() as mic:
        w = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=str(tmp_path), latency_ms=1000 * delay_s),
                       settings_org="musicdesk-tests-minus-one")
        qtbot.addWidget(w)
        w.show()
        with qtbot.waitSignal(w.score_shown, timeout=60000):
            w.open_score(path)
        qtbot.waitUntil(lambda: not w.warming, timeout=60000)
        assert w.session.score.part == "Violin"
        mo = w.takes.minus_one
        w.takes.minus_one.act_from_score.trigger()
        qtbot.waitUntil(lambda: mo.active, timeout=60000)
        assert "Bassoon" not in mo.acc.part and mo.acc.source == "the score's other parts"
        score = w.session.score
        errs = Errors(wrong_midi={WRONG: score.notes[WRONG].midi + 3}, detune_cents={FLAT: -40.0},
                      missed=frozenset({MISSED}))
        notes, _truth = perform(score.notes, errs, lead_s=0.3)
        take = render_notes(notes, "flute", sr=VMIC_SR, tail_s=0.5).samples
        # a realistic balance: the accompaniment from the speaker 3 dB below the player at the microphone
        acc_rms = float(np.sqrt(np.mean(mo.acc.samples ** 2)))
        take = take * (acc_rms * 10 ** (3 / 20) / float(np.sqrt(np.mean(take ** 2))))
        assert np.abs(take).max() < 1.0
        wav = tmp_path / "violin-take.wav"
        sf.write(wav, take.astype(np.float32), VMIC_SR, subtype="FLOAT")

        def record(minus_one: bool) -> tuple[dict[str, list[int]], CpuSteal]:
            acc = mo.acc
            if not minus_one:
                mo.acc = None                          # the same take, no accompaniment
            with mic.delay_line(delay_s):              # the app's output reaches the input 80 ms late
                with CpuSteal() as steal:
                    w.start_recording()
                    assert (mo.player is not None and mo.player.is_playing) == minus_one
                    p = mic.play(str(wav))
                    qtbot.waitUntil(lambda: p.poll() is not None and (mo.player is None or not mo.player.is_playing),
                                    timeout=90000)
                    qtbot.wait(600)
                with qtbot.waitSignal(w.analysis_shown, timeout=120000):
                    w.stop()
            mo.acc = acc
            cats: dict[str, list[int]] = {}
            for n in w.score.notes:
                cats.setdefault(w.categories[n.id], []).append(n.index)
            return cats, steal

        # A virtual machine whose host takes the CPU away (steal) makes the loopback's timing waver
        # whatever the app does: such a take is recorded again, and a machine starved in every take
        # is reported as unfit for this test (skipped, with the figures), not as the app's failure.
        steals = []
        for _ in range(3):
            alone, steal = record(False)
            steals.append(steal.figures)
            if not steal.starved:
                break
        else:
            pytest.skip(f"the machine's host took {steals} of the CPU during every take alone")
        alone_right = 100 * float(np.mean([c == "correct" for c in w.categories.values()]))
        # An output underrun (the machine busy) shifts the rest of the accompaniment, and a busy machine
        # can make the loopback's timing waver unreported: the app says so in the status bar (stutter,
        # or an echo taken out by under POOR_ECHO_DB). A take so troubled and not judged exactly as
        # played is recorded again (up to three takes); an untroubled take is held to it at once.
        troubles, starved = [], []
        for _ in range(3):
            cats, steal = record(True)
            troubles.append((mo.last_underflows, round(mo.last.echo_reduction_db, 1), steal.figures))
            starved.append(steal.starved)
            if cats == alone or not (mo.last_was_troubled or steal.starved):
                break
            if mo.last_was_troubled:
                status = w.statusBar().currentMessage()
                assert "stuttered" in status or "could only be taken out by" in status, status
        wrong = {c: v for c, v in cats.items() if c != "correct"}
        if cats != alone and all(starved):
            pytest.skip(f"the machine's host took the CPU away in every take (underflows, echo reduction dB, "
                        f"steal: {troubles})")
        assert cats == alone or not (mo.last_was_troubled or steal.starved), (
            f"every take was troubled (underflows, echo reduction dB, steal: {troubles})", wrong)
        assert cats.get("wrong_pitch") == [WRONG], wrong
        assert cats.get("out_of_tune") == [FLAT], wrong
        assert cats.get("missed") == [MISSED], wrong
        assert set(cats) <= {"correct", "wrong_pitch", "out_of_tune", "missed"}, wrong
        assert cats == alone                           # coloured exactly as without the accompaniment
        assert mo.last is not None and abs(mo.last.delay_s - delay_s) < 0.06
        # the take file keeps what the microphone heard (the accompaniment in it)
        raw, sr = sf.read(w.session.take.path, dtype="float32")
        assert sr == VMIC_SR and len(raw) == len(w.session.take.samples)
        assert float(np.mean(raw ** 2)) > 1.2 * float(np.mean(w.session.take.samples ** 2))
        # the same take judged raw, and alone (reported; the window's figure is the cleaned one)
        def right(y) -> float:
            rep = analyze(score, Take(np.asarray(y, np.float32), VMIC_SR)).report
            return 100 * float(np.mean([x.status == "correct" for x in rep.notes]))

        shown = 100 * float(np.mean([c == "correct" for c in w.categories.values()]))
        figures = {"without the accompaniment (shown)": alone_right, "with it, nothing removed": right(raw),
                   "with it, taken out (shown)": shown}
        print("minus-one e2e, notes judged correct (%):", figures)
        assert figures["with it, nothing removed"] < shown == alone_right
        w.close()


def test_minus_one_from_a_one_part_score_says_what_to_do(qtbot, tmp_path):
    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings
    from musicdesk.score import example_score_path

    w = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=str(tmp_path)),
                   settings_org="musicdesk-tests-minus-one")
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.score_shown, timeout=60000):
        w.open_score(example_score_path())
    w.takes.minus_one.act_from_score.trigger()
    qtbot.waitUntil(lambda: w.last_error is not None, timeout=60000)
    assert "two parts or more" in w.last_error and "Tools > Stems" in w.last_error
    assert not w.takes.minus_one.active
    w.close()


def test_clock_drift_between_output_and_input_is_followed(duo):
    """The output's clock runs 250 ppm fast against the input's (the delay grows 5 ms over the take,
    and one stretch's correlation peak is smeared over 16 samples): with the tracked delays smoothed
    and the reference placed block by block, the echo is taken out by over 22 dB and every note is
    judged right (with one delay per 0.25 s stretch: 20.9 dB, and 2 notes judged wrong pitch)."""
    from scipy.signal import resample_poly

    from musicdesk.analysis import analyze

    _path, scores, played, take = duo
    n = len(played)
    mic = _mic(take, resample_poly(played, 4001, 4000), 0.07, n)
    c = minusone.remove_accompaniment(mic, SR, played, 0.07)
    assert c.echo_reduction_db > 22, c.echo_reduction_db
    rep = analyze(scores[0], Take(c.samples, SR)).report
    bad = [(x.index, x.status) for x in rep.notes if x.status != "correct"]
    assert not bad, (bad, c.echo_reduction_db)


def test_the_drift_line_is_read_off_the_longest_run_of_measured_delays():
    """250 ppm over 80 stretches with a few samples of scatter, an underrun's step of 150 ms after
    stretch 60 and quiet stretches that kept their neighbour's delay: the longest run's line first."""
    rng = np.random.default_rng(0)
    t = 0.25 * np.arange(80)
    d = 0.070 + 250e-6 * t + rng.normal(0, 4 / SR, len(t))
    d[60:] += 0.150
    measured = np.ones(len(t), bool)
    measured[[10, 11, 30]] = False
    d[[10, 11]] = d[9]
    d[30] = d[29]
    lines = minusone.drift_lines(t, d, measured)
    assert len(lines) == 2                                             # before the step, and after it
    rate, start = lines[0]
    assert abs(rate - 250e-6) < 15e-6 and abs(start - 0.070) < 0.0003, (rate, start)
    assert abs(lines[1][0] - 250e-6) < 60e-6 and abs(lines[1][1] - 0.220) < 0.002, lines[1]
    assert minusone.drift_lines(t, 0.07 + 0.01 * t) == []             # 10 000 ppm: no clock drifts so
    assert minusone.drift_lines(t[:5], d[:5]) == []                   # too few stretches to say


def test_a_whole_take_delay_far_off_is_not_followed_at_the_start(duo):
    """The output 250 ppm fast: the whole take's delay (GCC-PHAT over all of it, smeared by the drift)
    was seen 70-220 ms off in rendered drift scenes, and the path then began there; the path's second
    pass starts on the drift line, so the first stretches are placed at the echo's real delay."""
    from scipy.signal import resample_poly

    _path, _scores, played, take = duo
    mic = _mic(take, resample_poly(played, 4001, 4000), 0.07, len(played))
    starts, delays = minusone.delay_track_s(mic, played, SR, 0.07 + 0.2)
    truth = 0.07 + 250e-6 * (starts + 0.125)                           # at each stretch's middle
    assert np.max(np.abs(delays - truth)) < 0.001, np.round(1000 * (delays - truth), 2)


@pytest.mark.parametrize("beyond_samples", [0.7, 1.5, 3.0])
def test_the_whole_take_delay_is_no_edge_of_the_search_window(beyond_samples):
    """A stronger arrival just beyond the search window (expected 50 ms, +-250 ms): its slope and ringing
    at the window's edge were returned as the delay (0.3 s, or one sample before it); the echo at 70 ms
    is the only delay inside the window."""
    rng = np.random.default_rng(3)
    ref = rng.standard_normal(3 * SR)

    def delayed(d_s: float) -> np.ndarray:
        n = len(ref) + SR // 2
        f = np.fft.rfftfreq(n, 1 / SR)
        return np.fft.irfft(np.fft.rfft(ref, n) * np.exp(-2j * np.pi * f * d_s), n)

    edge_s = int((0.05 + minusone.SEARCH_S) * SR) / SR
    mic = 0.2 * delayed(0.07) + delayed(edge_s + beyond_samples / SR)
    assert abs(minusone.find_delay_s(mic, ref, SR, 0.05) - 0.07) < 1 / SR


def test_smoothed_delays_keep_an_underrun_a_step():
    d = np.r_[np.full(10, 0.070), np.full(10, 0.220)] + 1e-5 * np.arange(20)
    sm = minusone.smooth_delays_s(d)
    np.testing.assert_allclose(sm, d, atol=1e-9)           # lines through lines, the step kept


@pytest.mark.parametrize("gap_s", [0.04, 0.15])
def test_an_output_underrun_midway_is_followed(duo, gap_s):
    """The accompaniment reached the microphone 40 or 150 ms later from its middle on (an output
    underrun): the delay is followed segment by segment and the echo still taken out. (150 ms is
    more than one tracking step may move: before the delay path jumped, 12 dB and 17 notes wrong.)"""
    _path, scores, played, take = duo
    n = len(played)
    half = n // 2
    late = np.concatenate([played[:half], np.zeros(int(gap_s * SR), np.float32), played[half:]])
    mic = _mic(take, late, 0.07, n)
    starts, delays = minusone.delay_track_s(mic, played, SR, minusone.find_delay_s(mic, played, SR, 0.07))
    assert abs(delays[1] - 0.07) < 0.002 and abs(delays[-4] - 0.07 - gap_s) < 0.002
    both = minusone.remove_accompaniment(mic, SR, played, 0.07)
    assert both.echo_reduction_db > 12
    from musicdesk.analysis import analyze

    rep = analyze(scores[0], Take(both.samples, SR)).report
    bad = [(x.index, x.status) for x in rep.notes if x.status != "correct"]
    assert not bad, (bad, both.echo_reduction_db)


def test_the_delay_is_followed_to_the_end_of_a_drifting_take_that_runs_on_after_the_accompaniment(duo):
    """The player starts 0.5 s in (half a second behind the accompaniment all through), the output's
    clock runs 250 ppm fast, the echo is 3 dB below the player and the recording runs on 1 s after the
    player stops: every note but the missed one judged as played. Found while checking the held-note
    fix (2026-12-07): the delay path followed a peak at about 0.59 s for the last 3 s and the last four
    notes came out missed. That peak was FluidSynth's dither, which the take's render shared with the
    accompaniment's a lag apart (renders are floats since 2026-12-08, musicdesk.synth._get), not the
    player's notes; taking the drift out of each stretch before it is correlated (minusone.
    delay_track_s) had mended it too."""
    from scipy.signal import resample_poly

    from musicdesk.analysis import analyze
    from musicdesk.simulate import Errors, perform

    _path, scores, played, _take = duo
    score = scores[0]
    notes, _ = perform(score.notes, Errors(missed=frozenset({MISSED})), lead_s=0.5)
    take = render_notes(notes, "flute", sr=SR, tail_s=0.5).samples
    mic = _mic(take, resample_poly(played, 4001, 4000), 0.05, len(take) + SR, below_db=3)
    c = minusone.remove_accompaniment(mic, SR, played, 0.05)
    rep = analyze(score, Take(c.samples, SR)).report
    assert [x.index for x in rep.notes if x.status != "correct"] == [MISSED]
    assert c.echo_reduction_db > 20, c.echo_reduction_db            # 18.0 dB before the fix
