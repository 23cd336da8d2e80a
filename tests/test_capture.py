"""Capture: ring buffer, Recorder through real PortAudio on the virtual microphone (complete and
sample-exact takes, live pitch from the ring, crash safety, a vanished device, a full disk), latency
calibration, metronome, and the no-microphone message."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from musicdesk import capture, latency, metronome
from musicdesk.capture import (DISK_FULL_MESSAGE, NO_MIC_MESSAGE, CaptureError, InputDevice, Recorder,
                               RingBuffer, read_partial)
from musicdesk.live_pitch import LivePitch
from musicdesk.synth import PerformedNote, render_notes
from vmic import virtual_microphone

SR = 44100
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTES = [PerformedNote(0.0, 0.5, 62), PerformedNote(0.6, 1.1, 69, cents=-30),
         PerformedNote(1.2, 1.7, 74), PerformedNote(1.8, 2.3, 65)]
LEAD_S = 0.2


# ---------------------------------------------------------------------------------------------------
# helpers

@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """A rendered take saved as 16-bit WAV at 44.1 kHz, and its samples as read back."""
    take = render_notes(NOTES, program="clarinet", sr=SR, lead_s=LEAD_S, tail_s=0.3)
    path = str(tmp_path_factory.mktemp("played") / "played.wav")
    sf.write(path, take.samples, SR, subtype="PCM_16")
    return path, sf.read(path, dtype="float32")[0]


@pytest.fixture(scope="module")
def mic():
    with virtual_microphone() as m:
        yield m


def find_lag(recorded: np.ndarray, played: np.ndarray) -> tuple[int, float]:
    """Lag of `played` inside `recorded` and the correlation coefficient there."""
    assert len(recorded) >= len(played), "recording is shorter than what was played"
    xc = scipy.signal.correlate(recorded, played, mode="valid", method="fft")
    lag = int(np.argmax(xc))
    return lag, float(np.corrcoef(recorded[lag:lag + len(played)], played)[0, 1])


class FakeStream:
    """Stands in for sounddevice.InputStream: feeds `signal` in blocks from a thread; then either
    keeps feeding silence (`then="silence"`) or goes quiet as a vanished device does (`"stall"`)."""

    signal = np.zeros(0, dtype=np.float32)
    then = "silence"

    def __init__(self, device=None, samplerate=None, channels=1, dtype=None, blocksize=0,
                 callback=None, finished_callback=None, latency=None):
        self.block, self.callback, self.channels = blocksize, callback, channels
        self.active = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.active = True
        self._thread.start()

    def _run(self):
        x, pos = FakeStream.signal, 0
        while not self._stop.is_set():
            if pos >= len(x) and FakeStream.then == "stall":
                time.sleep(0.005)
                continue
            blk = x[pos:pos + self.block]
            if len(blk) < self.block:
                blk = np.pad(blk, (0, self.block - len(blk)))
            pos += self.block
            self.callback(np.repeat(blk[:, None], self.channels, axis=1), self.block, None, None)
            time.sleep(0.001)

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.active = False

    def close(self):
        self.stop()


@pytest.fixture
def fake_input(monkeypatch):
    import sounddevice as sd

    monkeypatch.setattr(sd, "InputStream", FakeStream)
    monkeypatch.setattr(capture, "resolve_input_device",
                        lambda device: InputDevice(0, "Fake mic", 2, float(SR)))
    rng = np.random.default_rng(7)
    FakeStream.signal = (0.3 * rng.standard_normal(SR)).clip(-0.9, 0.9).astype(np.float32)
    FakeStream.then = "silence"
    return FakeStream


def wait_for(cond, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


# ---------------------------------------------------------------------------------------------------
# RingBuffer

def test_ring_buffer_reads_everything_in_order_and_wraps():
    ring = RingBuffer(100)
    x = np.arange(250, dtype=np.float32)
    out = []
    for i in range(0, 250, 30):
        ring.write(x[i:i + 30])
        out.append(ring.read_new())
    assert np.array_equal(np.concatenate(out), x)
    assert ring.total_written == 250 and ring.overruns == 0 and len(ring.read_new()) == 0
    assert np.array_equal(ring.latest(10), x[-10:])


def test_ring_buffer_overwrites_oldest_and_counts_overruns():
    ring = RingBuffer(100)
    x = np.arange(370, dtype=np.float32)
    for i in range(0, 370, 37):
        ring.write(x[i:i + 37])
    got = ring.read_new()
    assert np.array_equal(got, x[-100:])
    assert ring.overruns > 0 and ring.dropped_samples == 270
    ring.write(np.arange(500, dtype=np.float32))       # a block larger than the ring
    assert np.array_equal(ring.read_new(), np.arange(400, 500, dtype=np.float32))


def test_ring_buffer_producer_consumer_threads_lose_nothing():
    ring = RingBuffer(32768)       # the consumer may wait a GIL switch interval (5 ms) or more
    x = np.arange(200_000, dtype=np.float32)
    got = []

    def produce():
        for i in range(0, len(x), 441):
            ring.write(x[i:i + 441])
            time.sleep(0.0002)

    t = threading.Thread(target=produce)
    t.start()
    while t.is_alive():
        got.append(ring.read_new())
        time.sleep(0.0002)
    t.join()
    got.append(ring.read_new())
    assert ring.overruns == 0 and np.array_equal(np.concatenate(got), x)


# ---------------------------------------------------------------------------------------------------
# No microphone, bad paths

def test_no_input_device_gives_clear_error(monkeypatch, tmp_path):
    import sounddevice as sd

    only_output = [{"index": 0, "name": "Speakers", "max_input_channels": 0, "max_output_channels": 2,
                    "default_samplerate": 48000.0}]
    monkeypatch.setattr(sd, "query_devices", lambda *a, **k: only_output)
    assert capture.list_input_devices() == [] and capture.default_input_device() is None
    rec = Recorder(tmp_path / "t.wav")
    with pytest.raises(CaptureError) as e:
        rec.start()
    assert str(e.value) == NO_MIC_MESSAGE and "Settings > Input device" in str(e.value)
    assert not (tmp_path / "t.wav").exists()


def test_unwritable_folder_and_bad_suffix_fail_before_recording(fake_input, tmp_path):
    with pytest.raises(CaptureError, match="does not exist"):
        Recorder(tmp_path / "nope" / "t.wav").start()
    with pytest.raises(CaptureError, match=".wav or .flac"):
        Recorder(tmp_path / "t.mp3").start()


# ---------------------------------------------------------------------------------------------------
# Recorder logic with a fake stream (exact, fast)

def test_fake_stream_take_is_exact_level_and_clipping(fake_input, tmp_path):
    x = FakeStream.signal.copy()
    x[1000:1010] = 1.0                                    # ten clipped samples
    FakeStream.signal = x
    rec = Recorder(tmp_path / "t.wav", sr=SR)
    rec.start()
    assert wait_for(lambda: rec.elapsed_s > 1.2, 10)
    assert rec.is_recording and rec.level_dbfs == pytest.approx(-120.0)   # silence after the signal
    res = rec.stop()
    assert res.error is None and res.recovered_path is None and not rec.is_recording
    y = sf.read(res.path, dtype="float32")[0]
    assert np.allclose(y[:len(x)], x, atol=2 ** -22) and np.array_equal(rec.samples()[:len(x)], x)
    assert res.duration_s == pytest.approx(len(y) / SR) and len(y) == rec.ring.total_written
    assert rec.clipped and rec.clip_count == 10
    assert rec.stop() is res                               # idempotent


def test_disk_full_keeps_everything_and_writes_recovery(fake_input, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_write = sf.SoundFile.write

    def failing_write(self, data):
        calls["n"] += 1
        if calls["n"] > 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", failing_write)
    FakeStream.then = "stall"          # the signal, then nothing: the take is exactly the signal
    rec = Recorder(tmp_path / "t.flac", sr=SR, fallback_dir=tmp_path / "rescue", stall_s=30)
    rec.start()
    assert wait_for(lambda: rec.error is not None, 10)
    assert rec.error == DISK_FULL_MESSAGE and rec.disk_failed and rec.is_recording
    assert wait_for(lambda: len(rec.samples()) >= len(FakeStream.signal), 10)
    monkeypatch.setattr(sf.SoundFile, "write", real_write)   # space freed before stop
    res = rec.stop()
    assert res.error.startswith(DISK_FULL_MESSAGE) and res.recovered_path in res.error
    assert os.path.dirname(res.recovered_path) == str(tmp_path / "rescue")
    rescued = sf.read(res.recovered_path, dtype="float32")[0]
    x = FakeStream.signal
    assert len(rescued) == len(rec.samples()) and np.allclose(rescued[:len(x)], x, atol=2 ** -22)
    assert np.all(rescued[len(x):] == 0)
    # the partial file on the full disk is still readable (what was written before the failure)
    part, _ = read_partial(tmp_path / "t.flac")
    assert 0 < len(part) <= 20 * rec.block and np.allclose(part, x[:len(part)], atol=2 ** -22)
    # and the take can be saved again elsewhere
    again = rec.save_to(tmp_path / "again.wav")
    assert np.allclose(sf.read(again, dtype="float32")[0], rescued, atol=2 ** -22)


def test_disk_full_and_recovery_folder_unwritable_keeps_take_in_memory(fake_input, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(sf.SoundFile, "write",
                        lambda self, d: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    rec = Recorder(tmp_path / "t.wav", sr=SR, fallback_dir=blocker / "sub")
    rec.start()
    assert wait_for(lambda: len(rec.samples()) > SR // 2, 10)
    res = rec.stop()
    assert res.recovered_path is None and "still in memory" in res.error
    assert np.array_equal(rec.samples()[:SR // 2], FakeStream.signal[:SR // 2])


def test_device_that_stops_calling_back_is_detected(fake_input, tmp_path):
    FakeStream.then = "stall"
    rec = Recorder(tmp_path / "t.wav", sr=SR, stall_s=0.3)
    rec.start()
    assert wait_for(lambda: not rec.is_recording, 10)
    assert "stopped delivering audio" in rec.error and str(tmp_path / "t.wav") in rec.error
    res = rec.stop()
    y = sf.read(res.path, dtype="float32")[0]             # closed cleanly: a normal file
    x = FakeStream.signal
    assert len(y) >= len(x) and np.allclose(y[:len(x)], x, atol=2 ** -22)


# ---------------------------------------------------------------------------------------------------
# Real PortAudio through the virtual microphone

@pytest.mark.timeout(90)
def test_record_from_virtual_mic_is_complete_exact_and_live_pitch_follows(mic, played, tmp_path):
    path, x = played
    assert capture.default_input_device() is not None
    rec = Recorder(tmp_path / "take.flac", sr=SR)
    lp = LivePitch(SR)
    times, midi = [], []
    loud = []
    rec.start()
    time.sleep(0.2)
    player = mic.play(path)
    end = None
    while end is None or time.monotonic() < end:          # drain the ring like the GUI timer does
        time.sleep(1 / 30)
        fr = lp.push(rec.ring.read_new())
        times.append(fr.times_s)
        midi.append(fr.midi)
        loud.append(rec.level_dbfs)
        if end is None and player.poll() is not None:
            end = time.monotonic() + 0.4
    res = rec.stop()
    fr = lp.push(rec.ring.read_new())
    times.append(fr.times_s)
    midi.append(fr.midi)
    assert player.returncode == 0 and res.error is None
    assert rec.ring.overruns == 0 and rec.status_flags == 0
    y, sr = sf.read(res.path, dtype="float32")
    assert sr == SR and np.allclose(y, rec.samples(), atol=2 ** -22)
    lag, corr = find_lag(y, x)
    assert corr > 0.99                                     # complete and sample-exact
    assert len(y) - lag >= len(x)
    assert max(loud) > -20 and min(loud) < -60             # level meter moved with the music
    t = np.concatenate(times) - lag / SR - LEAD_S          # seconds in the notes' time
    m = np.concatenate(midi)
    assert len(t) == lp.n_frames and lp.n_frames >= int(res.duration_s / lp.hop_s) - 10
    for n in NOTES:
        steady = (t > n.onset_s + 0.1) & (t < n.offset_s - 0.05)
        err_c = (m[steady] - (n.midi + n.cents / 100)) * 100
        assert np.mean(np.abs(err_c) < 20) > 0.9, (n, err_c)
    assert not np.any(np.isfinite(m[t < -0.05]))           # unvoiced before the take


CHILD = r"""
import sys, time
from musicdesk.capture import Recorder
rec = Recorder(sys.argv[1], sr=44100, flush_s=0.5)
rec.start()
print("started", flush=True)
while True:
    time.sleep(0.1)
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_crash_mid_take_leaves_a_readable_file(mic, played, tmp_path, ext):
    """A recorder process killed with SIGKILL: the file holds all audio up to its last flush."""
    path, x = played
    out = str(tmp_path / f"crash.{ext}")
    env = dict(os.environ, PYTHONPATH=REPO)
    child = subprocess.Popen([sys.executable, "-c", CHILD, out], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert child.stdout.readline().strip() == "started", child.stderr.read()
        player = mic.play(path)
        # libsndfile writes whole FLAC frames and a reader sees them about a second late; WAV at once
        lag_s = 0.8 if ext == "flac" else 0.0
        time.sleep(1.6 + lag_s)
        live, _ = read_partial(out)                        # read while it is recording
        assert len(live) > 0.4 * SR
        time.sleep(0.6)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        player.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    y, sr = read_partial(out)
    assert sr == SR and len(y) >= len(live)
    assert np.array_equal(y[:len(live) - 4096], live[:len(live) - 4096])
    # everything up to about a flush before the kill: the played audio is in there, sample-exact
    lag, _ = find_lag(np.pad(y, (0, len(x))), x)
    n = min(len(y) - lag, len(x))
    assert n > 1.2 * SR, f"only {n / SR:.2f} s of the take survived"  # killed ~2.2 s in
    assert np.corrcoef(y[lag:lag + n], x[:n])[0, 1] > 0.99


@pytest.mark.timeout(60)
def test_measure_latency_on_virtual_mic_round_trip(mic):
    res = latency.measure_latency(sr=SR, n_clicks=8)
    assert res.n_detected >= 7 and res.n_clicks == 8
    assert 0.0 < res.latency_ms < 500.0 and res.spread_ms < 2.0


@pytest.mark.timeout(60)
def test_metronome_plays_through_the_device(mic, tmp_path):
    track = metronome.click_track(240, 4, SR)
    rec = Recorder(tmp_path / "clicks.wav", sr=SR)
    rec.start()
    # a fresh capture stream can take a moment to deliver; clicks played before that are not recorded
    assert wait_for(lambda: rec.n_callbacks > 5, 5.0)
    pb = metronome.play(track, SR)
    assert pb.active
    assert pb.wait(5.0) and not pb.active and pb.position_s == pytest.approx(len(track) / SR)
    time.sleep(0.3)
    rec.stop()
    y = rec.samples()
    lag, corr = find_lag(y, track)
    assert corr > 0.99
    stopper = metronome.play(np.zeros(10 * SR, dtype=np.float32), SR)
    stopper.stop()
    assert not stopper.active and stopper.position_s < 2.0


@pytest.mark.timeout(90)
def test_device_vanishing_mid_take_saves_the_take_so_far(played, tmp_path):
    path, x = played
    with virtual_microphone() as own:                      # its own server: this test kills it
        rec = Recorder(tmp_path / "vanish.wav", sr=SR)
        rec.start()
        own.play(path)
        time.sleep(1.5)
        before = rec.ring.total_written
        own.kill_server()
        assert wait_for(lambda: not rec.is_recording, 5.0)
        t0 = time.monotonic()
        res = rec.stop()
        assert time.monotonic() - t0 < 5.0
    assert res.error and "stopped delivering audio" in res.error and res.path in res.error
    y, sr = sf.read(res.path, dtype="float32")             # closed cleanly
    assert len(y) >= before and np.allclose(y, rec.samples(), atol=2 ** -22)
    lag, _ = find_lag(np.pad(y, (0, len(x))), x)
    n = min(len(y) - lag, len(x))
    assert n > 0.8 * SR and np.corrcoef(y[lag:lag + n], x[:n])[0, 1] > 0.99


# ---------------------------------------------------------------------------------------------------
# Latency and metronome logic

def test_latency_from_recording_finds_known_delay_in_noise():
    played, starts = latency.click_pattern(SR, 8)
    rng = np.random.default_rng(3)
    delay = 1234                                           # samples = 27.98 ms
    rec = np.concatenate([np.zeros(delay), 0.3 * played])[:len(played) + 2000]
    rec = rec + 0.01 * rng.standard_normal(len(rec))
    rec[starts[2] + delay: starts[2] + delay + 400] = 0    # one click lost
    res = latency.latency_from_recording(played, rec, SR, starts)
    assert res.latency_ms == pytest.approx(delay * 1000 / SR, abs=0.05)
    assert res.n_detected == 7 and res.spread_ms < 0.05
    silent = latency.latency_from_recording(played, 0.01 * rng.standard_normal(len(rec)), SR, starts)
    assert silent.n_detected < 4


def test_measure_latency_fails_clearly_when_clicks_are_not_heard(monkeypatch):
    import sounddevice as sd

    monkeypatch.setattr(latency, "resolve_input_device", lambda d: InputDevice(0, "Fake", 1, SR))
    monkeypatch.setattr(sd, "playrec", lambda data, **k: np.zeros((len(data), 1), np.float32))
    with pytest.raises(CaptureError, match="Hold the microphone near the speaker"):
        latency.measure_latency(sr=SR)


def _loopback(played: np.ndarray, delay: int) -> np.ndarray:
    """What a loopback hears of `played`, `delay` samples late, as playrec returns it ((n, 1) float32)."""
    return np.concatenate([np.zeros(delay), 0.3 * played])[:len(played)].astype(np.float32)[:, None]


def test_measure_latency_measures_again_when_the_audio_stuttered(monkeypatch):
    """A stream that reports an output underflow (or lost input) moved the clicks after it: measured
    again, and a machine that stutters every time is told so, not to hold the microphone nearer.
    (PortAudio stands in here: a stutter cannot be made on demand through the virtual microphone.)"""
    import sounddevice as sd

    played, starts = latency.click_pattern(SR, 8)
    delay = 2000
    heard = _loopback(played, delay)
    shifted = heard.copy()
    shifted[int(starts[2]):] = np.roll(heard[int(starts[2]):], 3000, axis=0)   # an underrun at click 3
    calls = []
    monkeypatch.setattr(latency, "resolve_input_device", lambda d: InputDevice(0, "Fake", 1, SR))
    monkeypatch.setattr(sd, "playrec", lambda data, **k: calls.append(1) or (shifted if len(calls) == 1 else heard))
    stutter, clean = sd.CallbackFlags(), sd.CallbackFlags()
    stutter.output_underflow = True
    monkeypatch.setattr(sd, "get_status", lambda: stutter if len(calls) == 1 else clean)
    res = latency.measure_latency(sr=SR)
    assert len(calls) == 3 and res.n_detected == 8           # the stutter measured again, then a second stream
    assert res.latency_ms == pytest.approx(delay * 1000 / SR, abs=0.05)
    calls.clear()
    monkeypatch.setattr(sd, "get_status", lambda: stutter)
    monkeypatch.setattr(sd, "playrec", lambda data, **k: calls.append(1) or shifted)
    with pytest.raises(CaptureError, match="stuttered .* 3 times in a row: close other programs"):
        latency.measure_latency(sr=SR)
    assert len(calls) == 3


def test_measure_latency_takes_the_median_of_three_streams_when_two_disagree(monkeypatch):
    """A stream's round trip can come out longer than the device's usual one (once in CI: 56 ms against
    43 ms): two streams that agree within AGREE_MS give their figure; when they do not, a third decides."""
    import sounddevice as sd

    played, _ = latency.click_pattern(SR, 8)
    monkeypatch.setattr(latency, "resolve_input_device", lambda d: InputDevice(0, "Fake", 1, SR))
    monkeypatch.setattr(sd, "get_status", lambda: sd.CallbackFlags())
    for delays, want, n_streams in (([1900, 1950], 1925, 2), ([2470, 1900, 1910], 1910, 3),
                                    ([1900, 2470, 1890], 1900, 3)):
        calls = []

        def playrec(data, **kwargs):
            calls.append(1)
            return _loopback(played, delays[len(calls) - 1])

        monkeypatch.setattr(sd, "playrec", playrec)
        res = latency.measure_latency(sr=SR)
        assert len(calls) == n_streams
        assert res.latency_ms == pytest.approx(want * 1000 / SR, abs=0.05)


def test_latency_from_taps():
    clicks = np.arange(8) * 0.5
    taps = clicks[1:] + 0.12 + np.array([0.01, -0.01, 0.0, 0.02, -0.02, 0.0, 0.005])
    assert latency.latency_from_taps(clicks, taps) == pytest.approx(120.0, abs=1.0)
    assert latency.latency_from_taps(clicks, clicks[:5] - 0.03) == pytest.approx(-30.0, abs=1e-6)
    with pytest.raises(ValueError, match="tap along"):
        latency.latency_from_taps(clicks, [10.0, 20.0])


def test_click_track_beats_accents_and_count_in():
    sr = 22050
    tr = metronome.click_track(120, 8, sr, beats_per_bar=4)
    assert len(tr) == int(metronome.count_in_s(120, 8) * sr) == 4 * sr
    assert metronome.count_in_s(60, 3) == pytest.approx(3.0)
    onsets = np.flatnonzero(np.abs(tr) > 0.02)
    starts = onsets[np.concatenate([[True], np.diff(onsets) > 100])]
    assert np.allclose(starts / sr, np.arange(8) * 0.5, atol=0.003)
    peaks = [np.abs(tr[s:s + 600]).max() for s in starts]
    assert peaks[0] > 1.5 * peaks[1] and peaks[4] > 1.5 * peaks[5]
    spec = lambda s: np.argmax(np.abs(np.fft.rfft(tr[s:s + 600], 22050))) * sr / 22050  # noqa: E731
    assert spec(starts[0]) == pytest.approx(metronome.ACCENT_HZ, abs=5)
    assert spec(starts[1]) == pytest.approx(metronome.CLICK_HZ, abs=5)
    flat = metronome.click_track(120, 8, sr, accent=False)
    assert np.abs(flat).max() < 0.5 and np.all(np.abs(flat) <= 1.0)


def test_cpu_steal_sees_a_starved_second_that_the_average_hides(monkeypatch):
    """tests/vmic.CpuSteal: a take in which the host took 80% of one second and nothing else averages
    under LIMIT, yet counts as starved through its worst second; an even 10% does not."""
    import vmic

    def run(burst: bool) -> vmic.CpuSteal:
        ticks = iter(range(10_000))

        def jiffies():   # 100 jiffies per sample; in samples 21-24 (one window of 4), 80 stolen
            k = next(ticks)
            stolen = 10 * k if not burst else 80 * max(0, min(k, 24) - 20)
            return stolen, 100 * k

        monkeypatch.setattr(vmic, "_cpu_jiffies", jiffies)
        with vmic.CpuSteal(sample_s=0.001, window_s=0.004) as steal:   # a second's 4 samples, fast
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and steal.peak_share == 0.0 and burst:
                time.sleep(0.01)
            time.sleep(0.2)
        return steal

    burst = run(True)
    assert burst.share < vmic.CpuSteal.LIMIT and burst.peak_share == pytest.approx(0.8)
    assert burst.starved and "worst second 80%" in burst.figures
    even = run(False)
    assert even.share == pytest.approx(0.1) and not even.starved
