"""Playback: the rendered reference, measure spans in score and take time, take + reference mixed on
the take's timeline, slowed practice takes, and the Player through real PortAudio on the virtual
microphone (what is played is what is recorded; the cursor follows what is heard; loops; stop)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from musicdesk.align import Alignment, NoteAlignment
from musicdesk.audio import Take
from musicdesk.feedback import NoteResult, Report
from musicdesk.pitch import track_pitch
from musicdesk.playback import (NO_OUTPUT_MESSAGE, Player, PlaybackError, _beat_grid_s, measure_span_s, mix,
                                render_reference, slowed, take_span_s, warped_reference)
from musicdesk.score import example_score_path, load_score
from musicdesk.simulate import Errors, perform
from musicdesk.synth import PerformedNote, render_notes
from vmic import retried_when_starved

SR = 44100
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def score():
    return load_score(example_score_path())


def _median_midi(contour, t0: float, t1: float) -> float:
    sel = (contour.times_s >= t0) & (contour.times_s < t1) & contour.voiced
    return float(np.median(contour.midi[sel])) if np.any(sel) else float("nan")


def _energy_onsets(y: np.ndarray, sr: int, hop_s: float = 0.005, rise_db: float = 12.0,
                   span_s: float = 0.03) -> np.ndarray:
    """Times (s) where the short-time energy rises by `rise_db` within `span_s`: a simple onset
    detector (one onset per rise, at its first frame)."""
    hop = int(hop_s * sr)
    pad = 20 * hop  # silence in front, so a sound at time 0 is a rise too
    y = np.concatenate([np.zeros(pad, np.float32), y])
    n = len(y) // hop - 1
    e = np.array([np.mean(y[i * hop:(i + 2) * hop] ** 2) for i in range(n)])  # frame i: [i, i+2) hops
    db = 10 * np.log10(e + 1e-6)  # a floor at -60 dB: rises out of near-silence count as from it
    k = max(1, int(round(span_s / hop_s)))
    rise = db[k:] - db[:-k]
    hits = np.flatnonzero(rise > rise_db)
    if len(hits) == 0:
        return np.array([])
    starts = hits[np.concatenate([[True], np.diff(hits) > 2 * k])]
    # the first rising frame i + k starts at most one frame (two hops long) before the sound
    return ((starts + k + 1) * hop - pad) / sr


# -------------------------------------------------------------------------------------- reference

def test_render_reference_length_and_pitch(score):
    ref = render_reference(score, sr=22050)
    assert ref.sr == 22050
    # score length plus the renderer's 0.5 s tail (the last note sounds 95 % of its length)
    assert abs(ref.duration_s - (score.notes[-1].onset_s + 0.95 * score.notes[-1].duration_s + 0.5)) < 0.02
    contour = track_pitch(ref)
    for n in score.notes:
        got = _median_midi(contour, n.onset_s + 0.1 * n.duration_s, n.onset_s + 0.8 * n.duration_s)
        assert abs(got - n.midi) < 0.3, (n.index, got, n.midi)


def test_render_reference_slower_tempo_keeps_pitch(score):
    ref = render_reference(score, sr=22050, tempo_factor=0.5)
    last = score.notes[-1]
    assert abs(ref.duration_s - ((last.onset_s + 0.95 * last.duration_s) / 0.5 + 0.5)) < 0.02
    contour = track_pitch(ref)
    for n in score.notes[:8]:
        got = _median_midi(contour, (n.onset_s + 0.1 * n.duration_s) / 0.5,
                           (n.onset_s + 0.8 * n.duration_s) / 0.5)
        assert abs(got - n.midi) < 0.3


def test_click_track_on_the_beats(score):
    grid = _beat_grid_s(score)
    times = np.array([t for t, _ in grid])
    # 3/4 with a one-beat pickup at 100 bpm: beats every 0.6 s from 0; downbeats from 0.6 every 1.8 s
    assert np.allclose(np.diff(times), 0.6)
    assert times[0] == pytest.approx(0.0) and times[-1] == pytest.approx(score.duration_s - 0.6)
    assert [t for t, acc in grid if acc][:3] == pytest.approx([0.6, 2.4, 4.2])
    assert not grid[0][1]
    plain = render_reference(score, sr=22050).samples
    clicked = render_reference(score, sr=22050, click=True).samples
    a = float(np.dot(clicked, plain) / np.dot(plain, plain))
    resid = clicked - a * plain  # the clicks alone (the sum was scaled to avoid clipping)
    found = _energy_onsets(resid, 22050, rise_db=20.0)
    assert len(found) == len(times)
    assert np.max(np.abs(found - times)) < 0.01


# ------------------------------------------------------------------------------------------ spans

def test_measure_span_s(score):
    # Zwei Koenigskinder: 3/4 at 100 bpm (a beat is 0.6 s), a one-beat pickup (measure 0)
    assert measure_span_s(score, 1, 1) == pytest.approx((0.6, 2.4))
    assert measure_span_s(score, 1, 3) == pytest.approx((0.6, 6.0))
    assert measure_span_s(score, 0, 0) == pytest.approx((0.0, 0.6))        # pickup, clipped at 0
    assert measure_span_s(score, 7, 7) == pytest.approx((11.4, 13.2))      # ends at the bar line
    assert measure_span_s(score, 8, 8) == pytest.approx((13.2, 15.0))      # starts with two beats rest
    assert measure_span_s(score, 15, 15) == pytest.approx((25.8, 28.2))    # last measure
    with pytest.raises(ValueError, match="No notes in measures"):
        measure_span_s(score, 40, 41)
    with pytest.raises(ValueError, match="before"):
        measure_span_s(score, 3, 2)


def _alignment(score, onsets: dict[int, float], dur_factor: float) -> Alignment:
    return Alignment(tuple(
        NoteAlignment(n.index, onsets.get(n.index), None if n.index not in onsets
                      else onsets[n.index] + 0.9 * n.duration_s * dur_factor)
        for n in score.notes))


def test_take_span_s_with_tempo_change_and_missed_notes(score):
    # The player starts 1.0 s in, plays at 0.8x tempo, and misses notes 4 and 9.
    onsets = {n.index: 1.0 + n.onset_s / 0.8 for n in score.notes if n.index not in (4, 9)}
    onsets[5] += 0.1  # note 5 late: the missed note 4 is interpolated between notes 3 and 5
    al = _alignment(score, onsets, 1 / 0.8)
    assert take_span_s(al, score, 1, 3) == pytest.approx((1.0 + 0.6 / 0.8 - 0.2, 1.0 + 6.0 / 0.8 + 0.2))
    t_note3, t_note5 = onsets[3], onsets[5]
    expected_m2 = t_note3 + (t_note5 - t_note3) * (2.4 - 1.8) / (3.0 - 1.8)
    assert take_span_s(al, score, 2, 2)[0] == pytest.approx(expected_m2 - 0.2)
    # a Report works the same as its alignment
    report = Report(notes=tuple(
        NoteResult(id=n.id, index=n.index, measure=n.measure, beat=n.beat, expected_midi=n.midi,
                   status="missed" if a.onset_s is None else "correct", played_midi=None, cents=None,
                   onset_s=a.onset_s, offset_s=a.offset_s, timing_error_ms=None)
        for n, a in zip(score.notes, al.notes)), extra_notes=(), summary={}, ratings={})
    assert take_span_s(report, score, 2, 2) == pytest.approx(take_span_s(al, score, 2, 2))
    # the start never goes below 0
    in_time = _alignment(score, {n.index: n.onset_s for n in score.notes}, 1.0)
    assert take_span_s(in_time, score, 0, 0)[0] == 0.0
    with pytest.raises(ValueError, match="No performed notes"):
        take_span_s(_alignment(score, {}, 1.0), score, 1, 2)


# ------------------------------------------------------------------------------------------- mix

def test_mix_puts_reference_notes_at_performed_onsets(score):
    notes = score.notes[:14]
    perf, truth = perform(notes, Errors(shift_ms={3: 60.0, 7: -30.0, 10: 80.0}, missed=frozenset({5})),
                          tempo_factor=0.8, lead_s=0.7)
    take = render_notes(perf, program="clarinet", sr=22050)
    offset_at = {round(p.onset_s, 6): p.offset_s for p in perf}
    al = Alignment(tuple(
        NoteAlignment(n.index, truth.onset_s[n.index], offset_at[round(truth.onset_s[n.index], 6)])
        if n.index in truth.onset_s else NoteAlignment(n.index, None, None)
        for n in score.notes))
    both = mix(take, Take(np.zeros(10, np.float32), 44100), alignment=al, score=score,
               gains=(0.0, 1.0), program="clarinet")
    assert both.sr == take.sr
    found = _energy_onsets(both.samples, both.sr)
    expected = dict(truth.onset_s)
    # the missed note is placed by interpolation between its neighbours (in score time)
    n4, n5, n6 = notes[4], notes[5], notes[6]
    frac = (n5.onset_s - n4.onset_s) / (n6.onset_s - n4.onset_s)
    expected[5] = expected[4] + (expected[6] - expected[4]) * frac
    exp = np.array(sorted(expected.values()))
    assert len(found) == len(exp), (found, exp)  # and nothing after the last played note
    assert np.max(np.abs(found - exp)) < 0.02, (found, exp)
    # the mix of both: the take plus 0.6 x the warped reference, length of the longer
    ref = warped_reference(score, al, sr=take.sr)
    m = mix(take, ref, gains=(1.0, 0.6))
    n = max(len(take.samples), len(ref.samples))
    want = np.zeros(n, np.float32)
    want[:len(take.samples)] += take.samples
    want[:len(ref.samples)] += 0.6 * ref.samples
    want *= min(1.0, 0.99 / np.max(np.abs(want)))
    assert np.allclose(m.samples, want, atol=1e-6)
    # one side only, and a reference at another rate is resampled to the take's rate
    assert np.allclose(mix(take, None).samples, take.samples)
    r44 = Take(np.ones(44100, np.float32) * 0.1, 44100)
    assert len(mix(take, r44, gains=(0.0, 1.0)).samples) == len(take.samples)
    assert len(mix(None, r44).samples) == 44100
    with pytest.raises(ValueError):
        mix(None, None)


# ---------------------------------------------------------------------------------------- slowed

def test_slowed_keeps_pitch_and_stretches_time():
    take = render_notes([PerformedNote(0.0, 1.5, 69), PerformedNote(1.6, 2.6, 74, cents=-30)],
                        program="clarinet", sr=22050)
    c0 = track_pitch(take)
    for factor in (0.5, 0.75):
        slow = slowed(take, factor)
        assert slow.sr == take.sr
        assert abs(len(slow.samples) - len(take.samples) / factor) <= 0.002 * len(take.samples) / factor
        c1 = track_pitch(slow)
        for t0, t1 in ((0.2, 1.3), (1.8, 2.5)):
            before, after = _median_midi(c0, t0, t1), _median_midi(c1, t0 / factor, t1 / factor)
            assert abs(after - before) * 100 < 10, (factor, before, after)
    assert slowed(take, 1.0) is take
    with pytest.raises(ValueError, match="between"):
        slowed(take, 0.1)


# --------------------------------------------------------------------------- Player, real PortAudio

@pytest.fixture(scope="module")
def vmic():
    from vmic import virtual_microphone

    with virtual_microphone() as mic:
        yield mic


class _Recorder:
    """Records the default input (vmic) with each block's ADC time (PortAudio stream clock)."""

    def __init__(self) -> None:
        import sounddevice as sd

        self.blocks: list[np.ndarray] = []
        self.adc: list[float] = []
        self.stream = sd.InputStream(samplerate=SR, channels=1, dtype="float32", callback=self._cb)

    def _cb(self, indata, frames, time_info, status) -> None:
        self.blocks.append(indata[:, 0].copy())
        self.adc.append(time_info.inputBufferAdcTime)

    def __enter__(self):
        self.stream.start()
        return self

    def __exit__(self, *exc):
        self.stream.stop()
        self.stream.close()

    def samples(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    def index_at(self, t: float) -> float:
        """Recording sample index captured at stream time `t`."""
        starts = np.concatenate([[0], np.cumsum([len(b) for b in self.blocks])])[:-1]
        adc = np.array(self.adc)
        k = int(np.searchsorted(adc, t, side="right")) - 1
        k = max(0, k)
        return starts[k] + (t - adc[k]) * SR


def _lag(x: np.ndarray, rec: np.ndarray) -> tuple[int, float]:
    """(lag, normalised correlation): rec[i + lag] best matches x[i]."""
    import scipy.signal

    c = scipy.signal.correlate(rec, x, mode="valid", method="fft")
    lag = int(np.argmax(c))
    seg = rec[lag:lag + len(x)]
    return lag, float(np.dot(seg, x) / (np.linalg.norm(seg) * np.linalg.norm(x) + 1e-12))


@retried_when_starved
def test_player_plays_what_is_heard_and_cursor_follows(vmic, score):
    x = render_reference(score, sr=SR).samples[:int(2.5 * SR)]
    finished = threading.Event()
    player = Player(on_finished=finished.set)
    cursor: list[tuple[float, float, float]] = []  # (wall clock, stream clock, position_s)
    with _Recorder() as rec:
        time.sleep(0.3)
        player.play(x, SR)
        assert player.is_playing
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            cursor.append((time.monotonic(), rec.stream.time, player.position_s))
            time.sleep(0.02)
        assert player.wait(2.0) and finished.is_set()
        assert not player.is_playing
        assert player.position_s == pytest.approx(len(x) / SR)
        time.sleep(0.2)
    y = rec.samples()
    lag, corr = _lag(x, y)
    assert corr > 0.9999  # all of it, the last samples included
    # the cursor advances at real time: 1 s of wall clock = 1 s of position, within 50 ms
    c = np.array(cursor)
    i0 = int(np.searchsorted(c[:, 0], c[0, 0] + 0.3))
    i1 = int(np.searchsorted(c[:, 0], c[i0, 0] + 1.0))
    assert abs((c[i1, 2] - c[i0, 2]) - (c[i1, 0] - c[i0, 0])) < 0.05
    # ... and points at what is heard: the sample being captured at that moment (output latency
    # accounted for: without it the cursor runs about 45 ms ahead here), within 20 ms
    for wall, t_stream, pos in cursor[5:-5]:
        heard_s = (rec.index_at(t_stream) - lag) / SR
        assert abs(pos - heard_s) < 0.02, (pos, heard_s)


@retried_when_starved
def test_a_longer_output_buffer_starts_as_soon_and_its_cursor_follows_what_is_heard(vmic, score):
    x = render_reference(score, sr=SR).samples[:int(1.5 * SR)]
    starts_s, latency_s = {}, {}
    for request in (None, 0.2):
        player = Player(latency_s=request)
        cursor = []
        with _Recorder() as rec:
            time.sleep(0.3)
            player.play(x, SR)
            t_start = rec.stream.time
            t_end = time.monotonic() + 1.2
            while time.monotonic() < t_end:
                cursor.append((rec.stream.time, player.position_s))
                time.sleep(0.02)
            assert player.wait(3.0)
            time.sleep(0.2)
        lag, corr = _lag(x, rec.samples())
        # all of it, the last samples included: PulseAudio buffers about 50 ms more than the 0.2 s
        # the stream reports, and a player that stopped by that figure lost the last millisecond
        assert corr > 0.9999, (request, corr)
        starts_s[request] = (lag - rec.index_at(t_start)) / SR
        latency_s[request] = player.latency_s
        for t_stream, pos in cursor[10:-5]:
            assert abs(pos - (rec.index_at(t_stream) - lag) / SR) < 0.02, (request, pos)
    assert latency_s[0.2] == pytest.approx(0.2, abs=0.02) and latency_s[None] < 0.1
    # PortAudio fills the longer buffer before it starts: the sound is not heard 0.2 s later (here it
    # starts 0-20 ms later; the minus-one cleaner looks for the echo 0.25 s either side anyway)
    assert abs(starts_s[0.2] - starts_s[None]) < 0.04, starts_s


@retried_when_starved
def test_player_loop_wraps_and_stop_stops(vmic):
    rng = np.random.default_rng(1)
    x = np.clip(0.2 * rng.standard_normal(int(1.5 * SR)), -0.9, 0.9).astype(np.float32)
    seg = x[int(0.5 * SR):int(1.0 * SR)]
    player = Player()
    positions = []
    with _Recorder() as rec:
        time.sleep(0.3)
        player.play(x, SR, start_s=0.5, end_s=1.0, loop=True)
        t_end = time.monotonic() + 1.4
        while time.monotonic() < t_end:
            positions.append(player.position_s)
            time.sleep(0.01)
        assert player.is_playing  # a loop never ends by itself
        player.stop()
        n_at_stop = sum(len(b) for b in rec.blocks)
        assert not player.is_playing
        assert player.position_s == pytest.approx(0.5)
        time.sleep(0.4)
    p = np.array(positions)
    assert np.all((p >= 0.5 - 1e-9) & (p <= 1.0 + 1e-9))
    assert np.sum(np.diff(p) < -0.3) >= 2  # wrapped from the end back to the start at least twice
    y = rec.samples()
    import scipy.signal

    # the segment (and nothing else of x) repeats back to back: full copies exactly len(seg) apart
    c = scipy.signal.correlate(y, seg, mode="valid", method="fft") / np.dot(seg, seg)
    hits = np.flatnonzero(c > 0.9)
    assert len(hits) >= 2, c.max()
    assert np.all(np.diff(hits) == len(seg))
    for h in hits:
        got = y[h:h + len(seg)]
        assert np.dot(got, seg) / (np.linalg.norm(got) * np.linalg.norm(seg)) > 0.9999
    assert np.max(np.abs(scipy.signal.correlate(y, x[:int(0.4 * SR)], mode="valid"))) < \
        0.2 * np.dot(x[:int(0.4 * SR)], x[:int(0.4 * SR)])  # the part before start_s never played
    # after stop() (plus the output latency) the recording is silent
    tail = y[n_at_stop + int(0.15 * SR):]
    assert len(tail) > int(0.1 * SR) and float(np.sqrt(np.mean(tail ** 2))) < 1e-3


@retried_when_starved
def test_player_replace_swaps_the_mix_with_no_gap(vmic):
    """A stem mixer's fader move: the new array is heard from the position reached, with no silence.
    A gap the host reported as an output underflow (the machine too busy to feed the output in time)
    is not the swap's: that run is repeated (up to three); an unexplained gap fails at once."""
    t = np.arange(int(2.0 * SR)) / SR
    a = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    b = (0.2 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    frame = int(0.02 * SR)
    stutters = []
    for _ in range(3):
        player = Player()
        with _Recorder() as rec:
            time.sleep(0.3)
            player.play(a, SR)
            time.sleep(0.8)
            at = player.position_s
            player.replace(b)
            assert abs(player.position_s - at) < 0.05   # the position is kept
            assert player.wait(3.0)
            time.sleep(0.2)
        y = rec.samples()
        rms = np.sqrt(np.mean(y[:len(y) // frame * frame].reshape(-1, frame) ** 2, axis=1))
        on = np.flatnonzero(rms > 0.05)
        stutters.append(player.underflows)
        if len(on) and np.all(np.diff(on) == 1) or not player.underflows:
            break
    with pytest.raises(PlaybackError):
        player.replace(b[:100])                     # another length must be played, not swapped in
    assert len(on) and np.all(np.diff(on) == 1), stutters   # one stretch of sound: no gap at the swap
    sound = y[on[0] * frame:(on[-1] + 1) * frame]

    def share_660(seg):
        f = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        k = np.fft.rfftfreq(len(seg), 1 / SR)
        return f[np.argmin(abs(k - 660))] / (f[np.argmin(abs(k - 440))] + f[np.argmin(abs(k - 660))])

    assert share_660(sound[int(0.1 * SR):int(0.5 * SR)]) < 0.05    # before the swap: a
    assert share_660(sound[-int(0.6 * SR):-int(0.1 * SR)]) > 0.95  # after it: b
    assert len(sound) / SR == pytest.approx(2.0, abs=0.06)         # and the whole length once


@retried_when_starved
def test_player_pause_resume(vmic):
    x = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(2.0 * SR)) / SR)).astype(np.float32)
    player = Player()
    player.play(x, SR, start_s=0.2)
    time.sleep(0.5)
    player.pause()
    held = player.position_s
    assert not player.is_playing and player.is_paused
    assert 0.55 < held < 0.85
    time.sleep(0.3)
    assert player.position_s == held
    player.resume()
    time.sleep(0.5)
    assert player.position_s == pytest.approx(held + 0.5, abs=0.06)
    player.seek(1.5)
    time.sleep(0.2)
    assert player.position_s == pytest.approx(1.7, abs=0.06)
    player.stop()


def test_no_output_device_says_what_to_do(tmp_path):
    """Real PortAudio in a child process whose sound server does not exist."""
    code = (
        "import json, numpy as np, sounddevice as sd\n"
        "from musicdesk.playback import Player, PlaybackError\n"
        "outs = [d for d in sd.query_devices() if d['max_output_channels'] > 0]\n"
        "try:\n"
        "    Player().play(np.zeros(100, np.float32), 44100); err = None\n"
        "except PlaybackError as e:\n"
        "    err = str(e)\n"
        "print(json.dumps({'outputs': len(outs), 'error': err}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE")}
    env.update(PULSE_SERVER=f"unix:{tmp_path}/no-server", XDG_RUNTIME_DIR=str(tmp_path), HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                       cwd=REPO)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    if got["outputs"] == 0:  # as on the development and CI machines (no sound card)
        assert got["error"] == NO_OUTPUT_MESSAGE
    else:  # a machine with its own sound card still plays through it
        assert got["error"] is None


def test_player_errors_are_clear():
    player = Player()
    with pytest.raises(PlaybackError, match="Cannot open the audio output 'no-such-output-device'"):
        player.play(np.zeros(100, np.float32), SR, device="no-such-output-device")
    with pytest.raises(PlaybackError, match="Empty play range"):
        player.play(np.zeros(SR, np.float32), SR, start_s=2.0)
    with pytest.raises(PlaybackError, match="empty"):
        player.play(np.zeros(0, np.float32), SR)


def test_renders_share_no_noise_and_match_the_16_bit_samples(monkeypatch):
    """Renders are FluidSynth's floats: silence is silent, so two renders share no noise (the 16-bit
    samples carried FluidSynth's dither, one table stepped through render after render, which the
    minus-one echo search found between a rendered take and its rendered accompaniment); the 16-bit
    fallback (a pyfluidsynth without write_float) sounds the same to 60 dB."""
    from musicdesk import synth
    from musicdesk.separate.minusone import _gcc_phat

    notes = [PerformedNote(0.3 + 0.4 * i, 0.65 + 0.4 * i, m, 0.0, 90) for i, m in enumerate([60, 64, 67, 72])]
    a = render_notes(notes, "clarinet").samples.astype(np.float64)
    assert not a[:int(0.25 * a.size / 2.3)].any()                   # before the first note: zeros
    bass = [PerformedNote(0.1 + 0.8 * i, 0.85 + 0.8 * i, m, 0.0, 90) for i, m in enumerate([36, 43, 41])]
    b = render_notes(bass, "bassoon").samples.astype(np.float64)
    cc = _gcc_phat(a, b)
    assert np.max(cc[:len(a)]) < 0.03                  # 0.018-0.019 (16-bit: 0.052-0.054, the shared dither)
    monkeypatch.setattr(synth, "_write_float", lambda: None)
    c = render_notes(notes, "clarinet").samples.astype(np.float64)
    assert len(c) == len(a)
    assert 20 * np.log10(np.sqrt(np.mean(a ** 2) / np.mean((a - c) ** 2))) > 60
