"""Input latency calibration: how late the recorded audio is against what the app plays.

Two ways: `measure_latency` plays a click pattern and records it at the same time (the microphone
near the speaker, or a loopback), and finds each click in the recording by cross-correlation; the
round trip (output + input latency) is what to subtract from a take recorded against the app's
metronome. `latency_from_taps` is the fallback without a microphone near the speaker: the user taps a
key with clicks they hear.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal

from musicdesk.capture import STREAM_LATENCY, CaptureError, resolve_input_device

CLICK_SPACING_S = 0.3        # mean gap between calibration clicks
MAX_LATENCY_S = 0.8          # longest round trip we look for
MIN_CLICK_CORR = 0.5         # normalised correlation for a click to count as heard
MEASURE_TRIES = 3            # measurements made when the audio stuttered (a stutter moves the clicks)
AGREE_MS = 2.0               # two streams' round trips this close agree; else a third decides
HEAR_ME_MESSAGE = ("Hold the microphone near the speaker and turn the volume up (or use a loopback "
                   "cable), then try again")
STUTTER_MESSAGE = ("The audio stuttered while the clicks played (the computer was busy), {tries} times "
                   "in a row: close other programs and try again")


@dataclass(frozen=True)
class LatencyResult:
    """Round-trip latency (median over the clicks heard), its robust spread (1.4826 x median absolute
    deviation), both in ms, and how many of the clicks were found."""

    latency_ms: float
    spread_ms: float
    n_detected: int
    n_clicks: int = 0


def calibration_click(sr: int) -> np.ndarray:
    """A 4 ms broadband chirp (1-8 kHz, Hann window): a sharp, unambiguous correlation peak."""
    n = max(8, int(round(0.004 * sr)))
    t = np.arange(n) / sr
    f1 = min(8000.0, 0.45 * sr)
    x = scipy.signal.chirp(t, 1000.0, t[-1], f1) * np.hanning(n)
    return (0.7 * x / np.abs(x).max()).astype(np.float32)


def click_pattern(sr: int, n_clicks: int = 8, lead_s: float = 0.3, tail_s: float = MAX_LATENCY_S + 0.2
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(signal, click start samples): clicks at irregular gaps (0.8-1.2 x CLICK_SPACING_S), so that
    the pattern correlates with itself at one lag only."""
    gaps = CLICK_SPACING_S * (0.8 + 0.4 * ((np.arange(n_clicks) * 0.618) % 1.0))
    starts_s = lead_s + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    starts = np.round(starts_s * sr).astype(np.int64)
    c = calibration_click(sr)
    sig = np.zeros(int(starts[-1] + len(c) + tail_s * sr), dtype=np.float32)
    for s in starts:
        sig[s:s + len(c)] += c
    return sig, starts


def latency_from_recording(played: np.ndarray, recorded: np.ndarray, sr: int, click_starts: np.ndarray,
                           max_latency_s: float = MAX_LATENCY_S) -> LatencyResult:
    """Find each played click in `recorded` (same rate, same start) and take the robust median lag.

    The whole pattern is first located by cross-correlation (coarse lag); then each click is searched
    within +-20 ms of it, and counts when its normalised correlation exceeds MIN_CLICK_CORR.
    """
    rec = np.asarray(recorded, dtype=np.float64).reshape(-1)
    ply = np.asarray(played, dtype=np.float64).reshape(-1)
    max_lag = int(max_latency_s * sr)
    n_clicks = len(click_starts)
    if len(rec) < len(ply) or not np.any(rec):
        return LatencyResult(float("nan"), float("nan"), 0, n_clicks)
    seg = rec[:len(ply) + max_lag] if len(rec) >= len(ply) + max_lag else np.pad(
        rec, (0, len(ply) + max_lag - len(rec)))
    xc = scipy.signal.correlate(seg, ply, mode="valid", method="fft")   # lags 0..max_lag
    coarse = int(np.argmax(xc))
    click = calibration_click(sr).astype(np.float64)
    nc = len(click)
    search = int(0.02 * sr)
    lags = []
    for s in click_starts:
        lo = int(s) + coarse - search
        hi = int(s) + coarse + search + nc
        if lo < 0 or hi > len(rec):
            continue
        w = rec[lo:hi]
        r = scipy.signal.correlate(w, click, mode="valid")
        e = np.convolve(w * w, np.ones(nc), mode="valid")
        norm = r / np.sqrt(np.maximum(e * np.dot(click, click), 1e-20))
        k = int(np.argmax(norm))
        if norm[k] < MIN_CLICK_CORR:
            continue
        frac = 0.0
        if 0 < k < len(r) - 1:
            den = r[k - 1] - 2 * r[k] + r[k + 1]
            if den < 0:
                frac = float(np.clip(0.5 * (r[k - 1] - r[k + 1]) / den, -0.5, 0.5))
        lags.append(lo + k + frac - int(s))
    if not lags:
        return LatencyResult(float("nan"), float("nan"), 0, n_clicks)
    lag_ms = np.asarray(lags) * 1000.0 / sr
    med = float(np.median(lag_ms))
    spread = float(1.4826 * np.median(np.abs(lag_ms - med)))
    return LatencyResult(med, spread, len(lags), n_clicks)


def measure_latency(sr: int = 44100, input_device=None, output_device=None, n_clicks: int = 8
                    ) -> LatencyResult:
    """Play a click pattern on `output_device` while recording `input_device` (sounddevice.playrec);
    return the round-trip latency. Two streams are measured, and a third when they differ by more
    than AGREE_MS: a stream's round trip can differ from the next one's (on the virtual PulseAudio
    device of the tests, usually 43 ms within 0.7 ms, one stream in a CI run came out 56 ms), and the
    median of three is the device's usual figure. Raises CaptureError when no device is there or fewer
    than half of the clicks were heard."""
    dev_in = resolve_input_device(input_device)
    played, starts = click_pattern(sr, n_clicks)
    runs = [_measure_stream(played, starts, sr, dev_in.index, output_device) for _ in range(2)]
    if abs(runs[0].latency_ms - runs[1].latency_ms) > AGREE_MS:
        runs.append(_measure_stream(played, starts, sr, dev_in.index, output_device))
    lat = [r.latency_ms for r in runs]
    median = float(np.median(lat))
    return LatencyResult(median, max(max(r.spread_ms for r in runs),
                                     float(1.4826 * np.median(np.abs(np.asarray(lat) - median)))),
                         min(r.n_detected for r in runs), n_clicks)


def _measure_stream(played: np.ndarray, starts: np.ndarray, sr: int, input_index: int, output_device
                    ) -> LatencyResult:
    """One stream's round trip. A measurement whose stream reported an output underflow or lost input
    is made again (up to MEASURE_TRIES): a stutter shifts the clicks after it."""
    import sounddevice as sd

    n_clicks = len(starts)
    for _ in range(MEASURE_TRIES):
        try:
            rec = sd.playrec(played, samplerate=sr, channels=1, dtype="float32", latency=STREAM_LATENCY,
                             device=(input_index, output_device), blocking=True)
        except sd.PortAudioError as exc:
            raise CaptureError(f"Cannot play and record at the same time ({exc}); check the output and "
                               "input devices in Settings.") from exc
        res = latency_from_recording(played, rec[:, 0], sr, starts)
        if not _stuttered(sd.get_status()):
            break
    else:
        if res.n_detected < n_clicks:
            raise CaptureError(STUTTER_MESSAGE.format(tries=MEASURE_TRIES) + ".")
    if res.n_detected < max(1, (n_clicks + 1) // 2):
        raise CaptureError(f"{HEAR_ME_MESSAGE}: only {res.n_detected} of {n_clicks} calibration "
                           "clicks were heard.")
    return res


def _stuttered(flags) -> bool:
    """Whether a stream's CallbackFlags say the output ran dry or input was lost. (An input underflow
    is not counted: a duplex stream on PulseAudio's ALSA plugin reports one in every measurement, as
    the input has nothing yet when the stream starts.)"""
    return bool(flags.output_underflow or flags.input_overflow)


def latency_from_taps(click_times_s, tap_times_s) -> float:
    """Latency in ms from a tap-along: the median of (tap - nearest click) over the taps within half a
    click gap of a click. Raises ValueError when fewer than 3 taps match a click."""
    clicks = np.sort(np.asarray(click_times_s, dtype=np.float64).reshape(-1))
    taps = np.asarray(tap_times_s, dtype=np.float64).reshape(-1)
    if len(clicks) < 2 or len(taps) == 0:
        raise ValueError("Tap along with at least 3 clicks to calibrate.")
    half_gap = 0.5 * float(np.median(np.diff(clicks)))
    idx = np.clip(np.searchsorted(clicks, taps), 1, len(clicks) - 1)
    prev, nxt = clicks[idx - 1], clicks[idx]
    nearest = np.where(np.abs(taps - prev) <= np.abs(nxt - taps), prev, nxt)
    d = taps - nearest
    ok = np.abs(d) <= half_gap
    if np.count_nonzero(ok) < 3:
        raise ValueError("Fewer than 3 taps were near a click: tap along with the clicks you hear.")
    return float(np.median(d[ok]) * 1000.0)
