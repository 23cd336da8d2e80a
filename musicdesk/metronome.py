"""Metronome: click tracks (count-in) and non-blocking playback through sounddevice."""
from __future__ import annotations

import threading

import numpy as np

CLICK_S = 0.03           # length of one click (s)
CLICK_HZ = 1000.0        # pitch of an ordinary beat
ACCENT_HZ = 1500.0       # pitch of a downbeat
CLICK_GAIN = 0.45
ACCENT_GAIN = 0.8


def click(sr: int, freq_hz: float = CLICK_HZ, gain: float = CLICK_GAIN, length_s: float = CLICK_S
          ) -> np.ndarray:
    """One tuned click: a sine at `freq_hz` with a 1 ms attack and an exponential decay (float32)."""
    n = max(2, int(round(length_s * sr)))
    t = np.arange(n) / sr
    env = np.exp(-t / (length_s / 5.0))
    attack = min(n, max(1, int(0.001 * sr)))
    env[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)
    return (gain * env * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def count_in_s(bpm: float, n_beats: int) -> float:
    """Duration of `n_beats` beats at `bpm` beats per minute, in seconds."""
    if bpm <= 0:
        raise ValueError("bpm must be positive")
    return n_beats * 60.0 / bpm


def beat_times_s(bpm: float, n_beats: int) -> np.ndarray:
    """Onset of every beat of a click track, in seconds from its start."""
    return np.arange(n_beats) * (60.0 / bpm)


def click_track(bpm: float, n_beats: int, sr: int, beats_per_bar: int = 4, accent: bool = True
                ) -> np.ndarray:
    """Mono float32 click track of `n_beats` beats (length count_in_s(bpm, n_beats)); the first beat
    of each bar is higher and louder when `accent`."""
    times = beat_times_s(bpm, n_beats)
    accents = np.array([accent and i % max(1, beats_per_bar) == 0 for i in range(len(times))], dtype=bool)
    return render_clicks(times, accents, sr, length_s=count_in_s(bpm, n_beats))


def take_click_times_s(score, count_in_beats: int, through_take: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Click times for a take (s from the first click) and which clicks are accented: `count_in_beats`
    beats at the score's tempo, then, when `through_take`, one click on every quarter-note beat of the
    score up to its last note, at the score's own tempo (tempo changes included: the score's notes map
    beats to seconds). Accented: the first count-in beat and every beat on which a bar's first note
    starts. The score's time 0 falls count_in_s(tempo, count_in_beats) after the first click."""
    bpm = float(score.tempo_bpm)
    lead = count_in_s(bpm, count_in_beats) if count_in_beats > 0 else 0.0
    times = list(beat_times_s(bpm, max(0, count_in_beats)))
    accents = [i == 0 for i in range(len(times))]
    if through_take and score.notes:
        beats = np.array([n.onset_beats for n in score.notes])
        secs = np.array([n.onset_s for n in score.notes])
        last_b = max(n.offset_beats for n in score.notes)
        grid = np.arange(0.0, np.floor(last_b - 1e-9) + 1.0)
        # seconds of each beat: along the notes' own (beats, seconds), at the last tempo beyond them
        if len(beats) > 1 and beats[-1] > beats[0]:
            t = np.interp(grid, beats, secs)
            tail_rate = (secs[-1] - secs[-2]) / (beats[-1] - beats[-2]) if beats[-1] > beats[-2] else 60.0 / bpm
            t = np.where(grid > beats[-1], secs[-1] + (grid - beats[-1]) * tail_rate, t)
            t = np.where(grid < beats[0], secs[0] - (beats[0] - grid) * 60.0 / bpm, t)
        else:
            t = secs[0] + (grid - beats[0]) * 60.0 / bpm
        downbeats = {round(n.onset_beats, 6) for n in score.notes if abs(n.beat - 1.0) < 1e-6}
        keep = t >= -1e-9
        times += list(lead + t[keep])
        accents += [round(float(b), 6) in downbeats for b in grid[keep]]
    return np.asarray(times, dtype=float), np.asarray(accents, dtype=bool)


def render_clicks(times_s: np.ndarray, accents: np.ndarray, sr: int, length_s: float | None = None
                  ) -> np.ndarray:
    """A mono float32 click track with a click at each time, higher and louder where accented; exactly
    `length_s` long when given (clicks cut at its end), else until the last click has sounded."""
    normal, strong = click(sr), click(sr, ACCENT_HZ, ACCENT_GAIN)
    if length_s is not None:
        n = int(round(length_s * sr))
    else:
        n = int(round(float(np.max(times_s)) * sr)) + len(strong) if len(times_s) else 0
    out = np.zeros(n, dtype=np.float32)
    for t, acc in zip(times_s, accents):
        c = strong if acc else normal
        at = int(round(t * sr))
        if at < n:
            out[at:at + len(c)] += c[:n - at]
    return out


class Playback:
    """A sound playing through sounddevice; `stop()` ends it, `wait()` blocks until it has played."""

    def __init__(self, samples: np.ndarray, sr: int, device: int | str | None = None) -> None:
        import sounddevice as sd

        self.sr = int(sr)
        self._x = np.ascontiguousarray(np.asarray(samples, dtype=np.float32).reshape(-1))
        self._pos = 0
        self._done = threading.Event()
        from musicdesk.capture import STREAM_LATENCY

        self._stream = sd.OutputStream(samplerate=self.sr, channels=1, dtype="float32", device=device,
                                       latency=STREAM_LATENCY,
                                       callback=self._callback, finished_callback=self._done.set)
        self._stream.start()

    def _callback(self, outdata, frames, time_info, status) -> None:
        import sounddevice as sd

        chunk = self._x[self._pos:self._pos + frames]
        outdata[:len(chunk), 0] = chunk
        outdata[len(chunk):, 0] = 0.0
        self._pos += len(chunk)
        if self._pos >= len(self._x):
            raise sd.CallbackStop

    @property
    def position_s(self) -> float:
        """Seconds of audio handed to the device so far."""
        return self._pos / self.sr

    @property
    def active(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the sound has played (True) or `timeout_s` passed (False)."""
        return self._done.wait(timeout_s)

    def stop(self) -> None:
        """Stop now (idempotent)."""
        try:
            self._stream.abort()
            self._stream.close()
        except Exception:
            pass
        self._done.set()


def play(samples: np.ndarray, sr: int, device: int | str | None = None) -> Playback:
    """Start playing mono `samples` at `sr` Hz on `device` (default output); returns at once."""
    return Playback(samples, sr, device)
