"""Playback material and a player: the take, the reference (the score rendered), or both together;
measure loops; a slower practice tempo.

- `render_reference` renders the score part with FluidSynth (optionally with metronome clicks).
- `measure_span_s` / `take_span_s` give the time span of a range of measures in score / take time.
- `mix` plays the take and the reference together: the reference is re-rendered at the performed
  onsets, so it follows the player's tempo exactly (no time-stretching needed).
- `slowed` time-stretches a take (pitch unchanged) for practice at a slower tempo.
- `Player` plays a mono array through sounddevice; its callback only copies samples.

No Qt here; the GUI calls these and reads `Player.position_s` for its cursor.
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np

from musicdesk.audio import Take, resample
from musicdesk.score import Score, ScoreNote
from musicdesk.synth import PerformedNote, render_notes

PLAYBACK_SR = 44100          # Hz; reference renders for listening
REFERENCE_ARTICULATION = 0.95  # fraction of the written length a reference note sounds (audible re-attacks)
SPAN_PAD_S = 0.2             # padding around a measure range in the take
TAIL_PAD_S = 0.05            # Player: silence after the last sample is heard, before stopping
TAIL_MAX_S = 1.0             # ... and at most this beyond the reported latency, whatever the clock says
_EPS = 1e-6


NO_OUTPUT_MESSAGE = ("No audio output device found, so nothing can be played. Connect speakers or "
                     "headphones (or start the system's sound server) and try again, or pick an output "
                     "device in Settings.")


class PlaybackError(RuntimeError):
    """Audio could not be played (no output device, device busy); the message says what to do."""


def playback_message(exc: Exception) -> str:
    """What to tell the user when playback could not start: a PlaybackError already says what to do;
    anything else gets the pointer to the output device setting (once, one period)."""
    text = str(exc).rstrip(". ")
    if not isinstance(exc, PlaybackError):
        text += ". Check the output device in Settings"
    return text + "."


# --------------------------------------------------------------------------------------- reference

def render_reference(score: Score, sr: int = PLAYBACK_SR, program: int | str = "clarinet",
                     tempo_factor: float = 1.0, click: bool = False) -> Take:
    """The score part rendered with FluidSynth at its tempo x `tempo_factor` (0.5 = half speed).

    Time 0 of the result is the first note's onset (score time 0). With `click`, metronome clicks on
    every beat (time signature unit), accented on each measure's first beat, are mixed in.
    """
    if not score.notes:
        raise ValueError("The score part has no notes to render; choose another part.")
    if not (0.1 <= tempo_factor <= 4.0):
        raise ValueError(f"tempo_factor must be between 0.1 and 4.0 (got {tempo_factor}).")
    notes = [PerformedNote(n.onset_s / tempo_factor,
                           (n.onset_s + max(n.duration_s, 0.02) * REFERENCE_ARTICULATION) / tempo_factor,
                           n.midi) for n in score.notes]
    take = render_notes(notes, program=program, sr=sr)
    if not click:
        return take
    from musicdesk.metronome import ACCENT_GAIN, ACCENT_HZ, click as click_sound

    y = take.samples.copy()
    normal, strong = click_sound(sr), click_sound(sr, ACCENT_HZ, ACCENT_GAIN)
    for t_s, accent in _beat_grid_s(score):
        c = strong if accent else normal
        at = int(round(t_s / tempo_factor * sr))
        n = min(len(c), len(y) - at)
        if at >= 0 and n > 0:
            y[at:at + n] += c[:n]
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        y *= 0.99 / peak
    return Take(samples=y.astype(np.float32), sr=sr, path="")


# ------------------------------------------------------------------------------------ score geometry

def _beat_unit_quarters(notes: Sequence[ScoreNote]) -> float:
    """Length of the `beat` unit (time signature denominator) in quarters, inferred from two notes of
    one measure: beat difference / onset_beats difference. 1.0 (quarter) when it cannot be inferred."""
    prev: ScoreNote | None = None
    for n in notes:
        if prev is not None and n.measure == prev.measure and n.onset_beats - prev.onset_beats > _EPS \
                and n.beat - prev.beat > _EPS:
            ratio = (n.onset_beats - prev.onset_beats) / (n.beat - prev.beat)
            for unit in (4.0, 2.0, 1.0, 0.5, 0.25, 0.125):
                if abs(ratio - unit) < 1e-3:
                    return unit
            return ratio
        prev = n
    return 1.0


def _beats_to_s(score: Score, beats: np.ndarray | float) -> np.ndarray:
    """Score seconds of quarter-note positions: piecewise linear through the notes' onsets (exact for
    constant tempo stretches), extrapolated with the first / last note's tempo."""
    b = np.array([n.onset_beats for n in score.notes] + [score.notes[-1].offset_beats])
    s = np.array([n.onset_s for n in score.notes] + [score.notes[-1].offset_s])
    keep = np.concatenate([[True], np.diff(b) > _EPS])
    b, s = b[keep], s[keep]
    x = np.asarray(beats, dtype=float)
    if len(b) == 1:
        spq = 60.0 / score.tempo_bpm
        return s[0] + (x - b[0]) * spq
    out = np.interp(x, b, s)
    lo_slope = (s[1] - s[0]) / (b[1] - b[0])
    hi_slope = (s[-1] - s[-2]) / (b[-1] - b[-2])
    out = np.where(x < b[0], s[0] + (x - b[0]) * lo_slope, out)
    out = np.where(x > b[-1], s[-1] + (x - b[-1]) * hi_slope, out)
    return out


def _measure_start_beats(n: ScoreNote, unit_q: float) -> float:
    """Quarter-note position of the start of the measure note `n` lies in (rests and pickups included)."""
    return n.onset_beats - (n.beat - 1.0) * unit_q


def _beat_grid_s(score: Score) -> list[tuple[float, bool]]:
    """(score time s, is_downbeat) of every beat from the first note (time 0) until the last note ends."""
    unit_q = _beat_unit_quarters(score.notes)
    starts = sorted({round(_measure_start_beats(n, unit_q), 6) for n in score.notes})
    first_b = starts[0]
    end_b = score.notes[-1].offset_beats
    k0 = int(np.ceil((score.notes[0].onset_beats - first_b) / unit_q - _EPS))
    grid_b = first_b + unit_q * np.arange(k0, int(np.ceil((end_b - first_b) / unit_q - _EPS)))
    times = _beats_to_s(score, grid_b)
    starts_a = np.array(starts)
    return [(float(t), bool(np.min(np.abs(starts_a - b)) < 1e-4)) for t, b in zip(times, grid_b)]


def _measure_run(score: Score, first_measure: int, last_measure: int) -> tuple[int, int]:
    """Indices [i0, i1) of the first contiguous run (played order) of notes in the measure range."""
    if last_measure < first_measure:
        raise ValueError(f"last_measure ({last_measure}) is before first_measure ({first_measure}).")
    notes = score.notes
    inside = [first_measure <= n.measure <= last_measure for n in notes]
    if not any(inside):
        have = sorted({n.measure for n in notes})
        raise ValueError(f"No notes in measures {first_measure}-{last_measure}; the score's measures with "
                         f"notes run from {have[0]} to {have[-1]}." if have else "The score has no notes.")
    i0 = inside.index(True)
    i1 = i0
    while i1 < len(notes) and inside[i1]:
        i1 += 1
    return i0, i1


def measure_span_s(score: Score, first_measure: int, last_measure: int) -> tuple[float, float]:
    """(start_s, end_s) in score time of measures `first_measure`..`last_measure` (printed numbers,
    inclusive): from the start of the first measure (leading rests included; a pickup measure starts
    before 0 and is clipped to 0) to the start of the measure that follows, or the last note's end.
    With repeats, the first pass through those measures is meant."""
    i0, i1 = _measure_run(score, first_measure, last_measure)
    notes = score.notes
    unit_q = _beat_unit_quarters(notes)
    start_b = _measure_start_beats(notes[i0], unit_q)
    run_end_b = max(n.offset_beats for n in notes[i0:i1])
    if i1 < len(notes):
        next_start_b = _measure_start_beats(notes[i1], unit_q)
        # the start of the next played measure ends the span (a tie sounding into it is cut there)
        end_b = next_start_b if next_start_b > start_b + _EPS else run_end_b
    else:
        end_b = run_end_b
    start_s, end_s = (float(v) for v in _beats_to_s(score, np.array([start_b, end_b])))
    return max(0.0, start_s), max(end_s, max(0.0, start_s))


# ----------------------------------------------------------------------------------- take geometry

def _performed_onsets(report_or_alignment) -> dict[int, tuple[float | None, float | None]]:
    """score index -> (onset_s, offset_s) in the take, from a Report, an Alignment or an Analysis."""
    obj = getattr(report_or_alignment, "alignment", report_or_alignment)  # Analysis -> Alignment
    out: dict[int, tuple[float | None, float | None]] = {}
    for n in obj.notes:
        out[int(n.index)] = (n.onset_s, n.offset_s)
    return out


class _Warp:
    """Score time -> take time, piecewise linear through the performed onsets (missed notes
    interpolated from their neighbours), extrapolated with the outermost segments' tempo."""

    def __init__(self, score: Score, report_or_alignment) -> None:
        perf = _performed_onsets(report_or_alignment)
        xs, ys = [], []
        for n in score.notes:
            on = perf.get(n.index, (None, None))[0]
            if on is None or not np.isfinite(on):
                continue
            if xs and (n.onset_s <= xs[-1] + _EPS or on <= ys[-1]):
                continue  # keep the warp monotonic (repeated/odd alignments)
            xs.append(float(n.onset_s))
            ys.append(float(on))
        if not xs:
            raise ValueError("No performed notes in the alignment: nothing of the score was found in the "
                             "take, so its measures cannot be located. Analyse a take that plays the piece.")
        self.x, self.y = np.array(xs), np.array(ys)
        self.perf = perf

    def __call__(self, t_s):
        x, y = self.x, self.y
        t = np.asarray(t_s, dtype=float)
        if len(x) == 1:
            return y[0] + (t - x[0])
        out = np.interp(t, x, y)
        lo = (y[1] - y[0]) / (x[1] - x[0])
        hi = (y[-1] - y[-2]) / (x[-1] - x[-2])
        out = np.where(t < x[0], y[0] + (t - x[0]) * lo, out)
        return np.where(t > x[-1], y[-1] + (t - x[-1]) * hi, out)


def take_span_s(report_or_alignment, score: Score, first_measure: int, last_measure: int,
                pad_s: float = SPAN_PAD_S) -> tuple[float, float]:
    """(start_s, end_s) in take time of measures `first_measure`..`last_measure`, from the performed
    onsets (a Report, an Alignment or an Analysis); missed notes are placed by interpolation from their
    neighbours; padded by `pad_s` each side (start clipped at 0)."""
    s0, s1 = measure_span_s(score, first_measure, last_measure)
    warp = _Warp(score, report_or_alignment)
    t0, t1 = (float(v) for v in warp(np.array([s0, s1])))
    i0, i1 = _measure_run(score, first_measure, last_measure)
    # The performed end of the range's last sounding note, when known, is a floor for the end.
    offs = [warp.perf.get(n.index, (None, None))[1] for n in score.notes[i0:i1]]
    offs = [o for o in offs if o is not None and np.isfinite(o)]
    if offs:
        t1 = max(t1, max(offs))
    return max(0.0, t0 - pad_s), max(t1 + pad_s, max(0.0, t0 - pad_s))


# ------------------------------------------------------------------------------------------- mixing

def warped_reference(score: Score, alignment, sr: int = PLAYBACK_SR,
                     program: int | str = "clarinet") -> Take:
    """The score notes rendered on the take's timeline: each note from its performed onset to its
    performed offset (missed notes where the neighbours put them; notes before the first / after the
    last performed note, which the take did not play, are left out). Exact and cheap (FluidSynth renders
    at about 50x real time), unlike time-stretching the reference segment by segment."""
    warp = _Warp(score, alignment)
    found = [n.index for n in score.notes
             if warp.perf.get(n.index, (None, None))[0] is not None
             and np.isfinite(warp.perf[n.index][0])]
    lo, hi = min(found), max(found)  # a take that played part of the piece gets that part only
    notes: list[PerformedNote] = []
    for n in score.notes:
        if not (lo <= n.index <= hi):
            continue
        on, off = warp.perf.get(n.index, (None, None))
        if on is None or not np.isfinite(on):
            on = float(warp(n.onset_s))
            off = float(warp(n.onset_s + n.duration_s * REFERENCE_ARTICULATION))
        elif off is None or not np.isfinite(off) or off <= on + 0.02:
            off = on + max(0.05, float(warp(n.offset_s) - warp(n.onset_s)) * REFERENCE_ARTICULATION)
        if off <= 0:
            continue
        notes.append(PerformedNote(max(0.0, float(on)), float(off), n.midi))
    return render_notes(notes, program=program, sr=sr)


def mix(take: Take | None, reference: Take | None, alignment=None, score: Score | None = None,
        gains: tuple[float, float] = (1.0, 0.6), program: int | str = "clarinet") -> Take:
    """Take and reference together ("both"), at the take's rate (or the reference's when no take).

    With `alignment` (an Alignment, Report or Analysis) and `score`, the reference is re-rendered onto
    the take's timeline (`warped_reference`, with `program`), so both play together; `reference` then
    only says that the reference is wanted. Without them the two are summed from time 0. The sum is
    scaled down when it would clip. One of `take` / `reference` may be None (then the other, x its gain).
    """
    if take is None and reference is None:
        raise ValueError("Nothing to play: neither a take nor a reference was given.")
    sr = take.sr if take is not None else reference.sr
    ref_y = None
    if reference is not None:
        if alignment is not None and score is not None and take is not None:
            ref_y = warped_reference(score, alignment, sr=sr, program=program).samples
        else:
            ref_y = resample(reference.samples, reference.sr, sr)
    take_y = take.samples if take is not None else None
    n = max(len(y) for y in (take_y, ref_y) if y is not None)
    out = np.zeros(n, dtype=np.float32)
    if take_y is not None:
        out[:len(take_y)] += np.float32(gains[0]) * take_y
    if ref_y is not None:
        out[:len(ref_y)] += np.float32(gains[1]) * ref_y
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak > 0.99:
        out *= np.float32(0.99 / peak)
    path = take.path if take is not None else ""
    return Take(samples=out, sr=sr, path=path)


def slowed(take: Take, factor: float) -> Take:
    """`take` played at `factor` x its speed (0.5 = half speed, twice as long), pitch unchanged
    (phase-vocoder time stretch). For the reference, re-render instead: render_reference(tempo_factor=)."""
    if not (0.25 <= factor <= 2.0):
        raise ValueError(f"Practice speed factor must be between 0.25 and 2.0 (got {factor}); "
                         "0.5 is half speed.")
    if abs(factor - 1.0) < 1e-9 or len(take.samples) == 0:
        return take
    import librosa

    y = librosa.effects.time_stretch(np.asarray(take.samples, dtype=np.float32), rate=float(factor))
    return Take(samples=np.clip(y, -1.0, 1.0).astype(np.float32), sr=take.sr, path="")


# ------------------------------------------------------------------------------------------- player

class Player:
    """Plays a mono float32 array through a sounddevice OutputStream.

    The stream callback only copies from the array into the output buffer. `position_s` is the time in
    the array of the sample being heard now (buffered output latency subtracted), for a GUI cursor.
    `on_finished()` is called, from the audio thread, when playback reaches its end (not on stop/pause,
    never with `loop`).
    """

    def __init__(self, on_finished: Callable[[], None] | None = None, latency_s: float | None = None) -> None:
        """latency_s: the output buffer to ask for (s); None: musicdesk's usual (STREAM_LATENCY). A longer
        one rides out longer pauses of the interpreter on a busy machine: PortAudio fills it before the
        stream starts, so the sound starts as soon, and stop() (an abort) drops what is buffered."""
        self.on_finished = on_finished
        self._latency_request = latency_s
        self._stream = None
        self._x = np.zeros(1, dtype=np.float32)
        self._xcol = self._x[:, None]
        self.sr = PLAYBACK_SR
        self._a = 0            # play range [a, b) in samples
        self._b = 0
        self._first = 0        # sample where the current stream started (resume point)
        self._loop = False
        self._device = None
        self._cursor = 0       # next sample to hand out (callback state)
        self._sent = 0         # samples handed out since the stream started
        # (samples sent before the latest block, that block's DAC time), double-buffered so the
        # callback writes without allocating and position_s never reads a half-written pair
        self._clock = np.zeros((2, 2))
        self._slot = 0
        self._latency_s = 0.0
        self._ended = threading.Event()
        self._paused_at: int | None = None
        self._natural_end = False
        self._tail_left = 0    # samples of silence still to send after the end (callback state)
        self._end_dac = -1.0   # stream time the last sample is heard (callback state; 0: the host
        #                        gives no clock; -1: the end is not reached yet)
        self.underflows = 0    # callbacks the host said came too late (the output stuttered)

    # -- control -------------------------------------------------------------------------------
    def play(self, samples: np.ndarray, sr: int, start_s: float = 0.0, end_s: float | None = None,
             loop: bool = False, device: int | str | None = None) -> None:
        """Play `samples` (mono, `sr` Hz) from `start_s` to `end_s` (None: the end); with `loop`, wrap
        from `end_s` back to `start_s` until stop(). Replaces whatever is playing. Returns at once."""
        self.stop()
        x = np.ascontiguousarray(np.asarray(samples, dtype=np.float32).reshape(-1))
        if len(x) == 0:
            raise PlaybackError("Nothing to play: the audio is empty.")
        self._x, self._xcol, self.sr = x, x[:, None], int(sr)
        a = int(round(max(0.0, start_s) * sr))
        b = len(x) if end_s is None else int(round(min(end_s * sr, len(x))))
        if b <= a:
            raise PlaybackError(f"Empty play range: start {start_s:.2f} s is not before end "
                                f"{(b / sr):.2f} s (the audio lasts {len(x) / sr:.2f} s).")
        self._a, self._b, self._loop, self._device = a, b, bool(loop), device
        self._start_stream(a)

    def replace(self, samples: np.ndarray) -> None:
        """Swap the array being played for another of the same length (a stem mixer's new gains), keeping
        the position: the audio thread picks it up at its next block, with no gap."""
        x = np.ascontiguousarray(np.asarray(samples, dtype=np.float32).reshape(-1))
        if len(x) != len(self._x):
            raise PlaybackError(f"Cannot swap in {len(x)} samples for {len(self._x)}; play() them instead.")
        self._x, self._xcol = x, x[:, None]   # one attribute store: the callback reads _xcol once a block

    def pause(self) -> None:
        """Stop sound now, keeping the position heard; `resume()` continues from there."""
        if self._stream is None:
            return
        pos = int(round(self.position_s * self.sr))
        self._close_stream()
        self._paused_at = min(max(pos, self._a), self._b - 1)

    def resume(self) -> None:
        """Continue after pause() (no-op otherwise)."""
        if self._paused_at is not None and self._stream is None:
            at, self._paused_at = self._paused_at, None
            self._start_stream(at)

    def stop(self) -> None:
        """Stop now and forget the position (idempotent)."""
        self._paused_at = None
        self._close_stream()

    def seek(self, t_s: float) -> None:
        """Jump to `t_s` (clamped into the play range), keeping the playing / paused state."""
        at = min(max(int(round(t_s * self.sr)), self._a), max(self._a, self._b - 1))
        if self._paused_at is not None:
            self._paused_at = at
        elif self._stream is not None:
            self._close_stream()
            self._start_stream(at)

    # -- state ---------------------------------------------------------------------------------
    @property
    def is_playing(self) -> bool:
        return self._stream is not None and not self._ended.is_set()

    @property
    def is_paused(self) -> bool:
        return self._paused_at is not None

    @property
    def latency_s(self) -> float:
        """Output latency the stream reports (s): how long a sample takes from the callback to the ear."""
        return self._latency_s

    @property
    def position_s(self) -> float:
        """Seconds into the array of the sample being heard now (0 when nothing was played)."""
        if self._paused_at is not None:
            return self._paused_at / self.sr
        if self._stream is None:
            return self._a / self.sr  # stopped: back at the start of the range
        if self._ended.is_set() and self._natural_end:
            return self._index_after(self._sent) / self.sr
        sent = self._sent
        slot = self._slot
        blk_first, blk_dac = self._clock[slot, 0], self._clock[slot, 1]
        heard = -1.0
        if blk_dac > 0.0:
            try:
                heard = blk_first + (self._stream.time - blk_dac) * self.sr
            except Exception:
                heard = -1.0
        if heard < 0.0 and blk_dac <= 0.0:  # host gives no DAC times: sent minus what is buffered
            heard = sent - self._latency_s * self.sr
        heard = int(min(max(heard, 0.0), sent))
        return self._index_after(heard) / self.sr

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until playback ends (by itself or by stop/pause: True) or `timeout_s` passes (False)."""
        return self._ended.wait(timeout_s)

    # -- internals -----------------------------------------------------------------------------
    def _index_after(self, n: int) -> int:
        """Array index reached after `n` samples were played from the stream's first sample."""
        first, a, b = self._first, self._a, self._b
        if not self._loop:
            return min(first + n, b)
        if first + n < b:
            return first + n
        return a + (first + n - b) % (b - a)

    def _start_stream(self, at: int) -> None:
        from musicdesk.capture import STREAM_LATENCY

        try:
            import sounddevice as sd
        except Exception as exc:  # PortAudio library missing
            raise PlaybackError(f"Audio output is not available ({exc}); install PortAudio "
                                "(`apt-get install libportaudio2`).") from exc
        self._stop_exc = sd.CallbackStop
        self._first = self._cursor = at
        self._sent = 0
        self._clock[:] = 0.0
        self._natural_end = False
        self._ended = threading.Event()
        ended = self._ended
        if self._device is None:
            try:
                sd.query_devices(kind="output")  # raises when there is no default output device
            except Exception as exc:
                raise PlaybackError(NO_OUTPUT_MESSAGE) from exc
        stream, exc = None, None
        for channels in (1, 2):  # mono, or the same signal on both sides where mono is refused
            try:
                stream = sd.OutputStream(samplerate=self.sr, channels=channels, dtype="float32",
                                         device=self._device, callback=self._callback,
                                         latency=STREAM_LATENCY if self._latency_request is None
                                         else float(self._latency_request),
                                         finished_callback=lambda: self._finished(ended))
                break
            except Exception as e:
                exc = e
        if stream is None:
            raise PlaybackError(
                f"Cannot open the audio output{'' if self._device is None else f' {self._device!r}'}: "
                f"{exc}. Connect speakers or headphones, or pick another output device in Settings."
            ) from exc
        self._stream = stream
        try:
            self._latency_s = float(stream.latency)
            self._end_dac = -1.0
            stream.start()
        except Exception as exc:
            self._close_stream()
            raise PlaybackError(f"Cannot start audio output: {exc}. The device may be busy; close "
                                "other programs using it or choose another output device.") from exc

    def _callback(self, outdata, frames, time_info, status) -> None:
        # Audio thread: copy only.
        if status.output_underflow:
            self.underflows += 1
        slot = 1 - self._slot
        self._clock[slot, 0] = self._sent
        self._clock[slot, 1] = time_info.outputBufferDacTime
        self._slot = slot
        x, out, b = self._xcol, outdata, self._b  # x is (n, 1): one column fills every channel
        done = 0
        while done < frames:
            n = min(frames - done, b - self._cursor)
            if n <= 0:
                if self._loop:
                    self._cursor = self._a
                    continue
                # The end: silence until the last sample has been heard, so it gets through (hosts
                # drop what is still buffered when a stream stops). The stream's clock says when
                # that is; the latency it reports can be shorter than what the host buffers
                # (PulseAudio: about 50 ms more with a 0.2-0.5 s buffer, and the take's last
                # millisecond was lost), so the count of samples is the fallback only.
                out[done:] = 0.0
                if self._end_dac < 0.0:  # the first block past the end
                    dac = time_info.outputBufferDacTime
                    self._end_dac = dac + done / self.sr if dac > 0.0 else 0.0
                    self._tail_left = int((self._latency_s + (TAIL_MAX_S if dac > 0.0 else TAIL_PAD_S))
                                          * self.sr)
                self._tail_left -= frames - done
                self._sent += frames
                heard = (self._end_dac > 0.0
                         and time_info.currentTime >= self._end_dac + TAIL_PAD_S)
                if heard or self._tail_left <= 0:
                    self._natural_end = True
                    raise self._stop_exc
                return
            out[done:done + n] = x[self._cursor:self._cursor + n]
            self._cursor += n
            done += n
        self._sent += frames

    def _finished(self, ended: threading.Event) -> None:
        ended.set()
        if self._natural_end and ended is self._ended and self.on_finished is not None:
            try:
                self.on_finished()
            except Exception:
                pass

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            from musicdesk.capture import close_quietly

            self._natural_end = False
            close_quietly(stream, abort=True)
        self._ended.set()
        self._sent = 0

    def close(self) -> None:
        """Release the device (same as stop())."""
        self.stop()
