"""Microphone capture: input devices, a lock-light ring buffer for the live display, and a `Recorder`
that streams the take to disk as it is played.

Threads (Friture's pattern): the PortAudio callback only copies each block (mixed to mono) into the
`RingBuffer` (drained by the GUI timer for the live trace) and into a queue. A writer thread drains the
queue: it keeps every block in memory (`Recorder.samples()`), writes it to a FLAC or WAV file that is
flushed about once a second (after a crash the file holds everything up to the last second; WAV is the
most robust, FLAC needs `read_partial`), computes the level and clipping, and watches for a device that
stopped delivering audio. A full or unwritable disk keeps the take in memory and `stop()` writes it to a
recovery file. Nothing here imports Qt.
"""
from __future__ import annotations

import collections
import errno
import math
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

NO_MIC_MESSAGE = "No microphone found: connect one and choose it in Settings > Input device."
DISK_FULL_MESSAGE = ("The disk is full: the take is kept in memory; free some space or choose another "
                     "folder, then save it.")
# PortAudio buffering for every stream musicdesk opens (input, metronome, playback, calibration):
# "high" is about 35 ms on PulseAudio against 9 ms for "low". The callbacks are Python and need the GIL;
# with 9 ms, any short pause of the interpreter on a busy 2-core machine drops or repeats samples.
STREAM_LATENCY = "high"
CLIP_LEVEL = 0.999        # |sample| at or above this counts as clipped
LEVEL_WINDOW_S = 0.05     # `level_dbfs` is the peak over about this much audio
SILENCE_DBFS = -120.0     # level reported for digital silence


def lost_input_message(n_overflows: int) -> str:
    """What to tell a player whose take lost input `n_overflows` times (PortAudio's input overflow: the
    computer did not read the microphone in time, so the take is missing a moment there)."""
    times = "once" if n_overflows == 1 else f"{n_overflows} times"
    return (f"The recording lost a moment of audio {times}: the computer did not keep up with the "
            "microphone. The take is kept and judged, but the timing of the notes near those moments may "
            "be off. Close other programs and record again if the results look wrong.")


class CaptureError(RuntimeError):
    """Recording cannot start (no input device, device busy, file not writable); says what to do."""


@dataclass(frozen=True)
class InputDevice:
    """A PortAudio input device: index for sounddevice, name, channels, default rate (Hz)."""

    index: int
    name: str
    max_input_channels: int
    default_sr: float


@dataclass(frozen=True)
class RecordingResult:
    """What `Recorder.stop()` reports. `error` is None for a clean take; `recovered_path` is set when
    the take could not be written to `path` (disk full) and was written there instead."""

    path: str
    duration_s: float
    sr: int
    error: str | None = None
    recovered_path: str | None = None


def close_quietly(stream: Any, abort: bool = False) -> None:
    """Stop (or abort: drop what is buffered) and close a sounddevice stream, ignoring errors: the
    device may already be gone, and closing must never be what fails."""
    try:
        stream.abort() if abort else stream.stop()
    except Exception:
        pass
    try:
        stream.close()
    except Exception:
        pass


def _sd():
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio missing
        raise CaptureError(f"PortAudio is not installed ({exc}); install libportaudio2.") from exc
    return sd


def list_input_devices() -> list[InputDevice]:
    """All devices with at least one input channel, in PortAudio's order."""
    sd = _sd()
    try:
        devs = sd.query_devices()
    except sd.PortAudioError as exc:
        raise CaptureError(f"Cannot list audio devices ({exc}).") from exc
    return [InputDevice(int(d["index"]), str(d["name"]), int(d["max_input_channels"]),
                        float(d["default_samplerate"]))
            for d in devs if int(d["max_input_channels"]) > 0]


def default_input_device() -> InputDevice | None:
    """The system's default input, else the first input device, else None."""
    devs = list_input_devices()
    if not devs:
        return None
    sd = _sd()
    try:
        idx = sd.default.device[0]
        if idx is None or int(idx) < 0:
            idx = sd.query_devices(kind="input")["index"]
    except Exception:
        return devs[0]
    return next((d for d in devs if d.index == int(idx)), devs[0])


def resolve_input_device(device: InputDevice | int | str | None) -> InputDevice:
    """Turn an index, a name (exact, else substring) or None (default) into an InputDevice."""
    devs = list_input_devices()
    if not devs:
        raise CaptureError(NO_MIC_MESSAGE)
    if device is None:
        found = default_input_device()
        assert found is not None
        return found
    if isinstance(device, InputDevice):
        device = device.index
    if isinstance(device, (int, np.integer)):
        for d in devs:
            if d.index == int(device):
                return d
    else:
        for d in devs:
            if d.name == device:
                return d
        for d in devs:
            if str(device).lower() in d.name.lower():
                return d
    names = ", ".join(d.name for d in devs)
    raise CaptureError(f"Input device {device!r} is not available (connected inputs: {names}); "
                       "choose one in Settings > Input device.")


class RingBuffer:
    """Fixed-size float32 ring, one producer (audio callback) and one consumer (GUI timer).

    `write` never blocks for long (a lock around a memcpy) and never allocates; when the consumer falls
    behind by more than the capacity, the oldest samples are overwritten and `overruns` counts the
    writes that did so (`dropped_samples` the samples the consumer never saw).
    """

    def __init__(self, capacity_samples: int) -> None:
        if capacity_samples <= 0:
            raise ValueError("capacity_samples must be positive")
        self.capacity = int(capacity_samples)
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self._lock = threading.Lock()
        self.total_written = 0
        self._total_read = 0
        self.overruns = 0
        self.dropped_samples = 0

    def write(self, block: np.ndarray) -> None:
        """Append samples (1-D); overwrite the oldest when full."""
        n = len(block)
        if n == 0:
            return
        cap = self.capacity
        src = block[-cap:] if n > cap else block
        m = len(src)
        with self._lock:
            pos = (self.total_written + (n - m)) % cap
            first = min(m, cap - pos)
            self._buf[pos:pos + first] = src[:first]
            if first < m:
                self._buf[:m - first] = src[first:]
            self.total_written += n
            unread = self.total_written - self._total_read
            if unread > cap:
                self.overruns += 1
                self.dropped_samples += unread - cap
                self._total_read = self.total_written - cap

    def read_new(self) -> np.ndarray:
        """All samples written since the last read (at most `capacity`), oldest first (a new array)."""
        with self._lock:
            n = self.total_written - self._total_read
            out = self._copy_last(n)
            self._total_read = self.total_written
        return out

    def latest(self, n: int) -> np.ndarray:
        """The last `n` samples written (fewer at the start); does not change what `read_new` returns."""
        with self._lock:
            return self._copy_last(min(int(n), self.total_written))

    def _copy_last(self, n: int) -> np.ndarray:
        n = min(n, self.capacity)
        if n <= 0:
            return np.zeros(0, dtype=np.float32)
        end = self.total_written % self.capacity
        start = end - n
        if start >= 0:
            return self._buf[start:end].copy()
        return np.concatenate([self._buf[start:], self._buf[:end]])


def _subtype_for(path: str) -> tuple[str, str]:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".flac":
        return "FLAC", "PCM_24"
    if ext == ".wav":
        return "WAV", "PCM_24"
    raise CaptureError(f"Cannot record to {os.path.basename(path)}: use a .wav or .flac file name.")


def read_partial(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a take that may have been cut off by a crash (WAV or FLAC never closed): every complete
    block up to the damage, as float32 mono, and the sample rate."""
    import soundfile as sf

    out: list[np.ndarray] = []
    with sf.SoundFile(os.fspath(path)) as f:
        sr = int(f.samplerate)
        try:
            while True:
                b = f.read(65536, dtype="float32", always_2d=True)
                if len(b) == 0:
                    break
                out.append(b.mean(axis=1) if b.shape[1] > 1 else b[:, 0])
        except Exception:
            pass  # a truncated last frame: keep what decoded
    return (np.concatenate(out) if out else np.zeros(0, dtype=np.float32)), sr


def recovery_dir(fallback_dir: str | os.PathLike | None = None) -> str:
    """Folder for takes that could not be saved where asked (default: the user cache dir)."""
    if fallback_dir is not None:
        return os.fspath(fallback_dir)
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("musicdesk"), "recovered")


class Recorder:
    """Record a mono take from an input device into `path` (.wav or .flac), streaming it to disk.

    sr: sample rate (Hz); block_s: PortAudio block length (s); ring_s: live ring buffer length (s);
    flush_s: how often the file is flushed; stall_s: no audio for this long = the device vanished.
    """

    def __init__(self, path: str | os.PathLike, device: InputDevice | int | str | None = None,
                 sr: int = 44100, channels: int = 1, block_s: float = 0.01, ring_s: float = 10.0,
                 fallback_dir: str | os.PathLike | None = None, flush_s: float = 1.0,
                 stall_s: float = 1.0, start_timeout_s: float = 5.0) -> None:
        self.path = os.fspath(path)
        self.device = device
        self.sr = int(sr)
        self.channels = int(channels)
        self.block = max(1, int(round(block_s * self.sr)))
        self.fallback_dir = fallback_dir
        self.flush_s = float(flush_s)
        self.stall_s = float(stall_s)
        self.start_timeout_s = float(start_timeout_s)
        self.ring = RingBuffer(max(self.block, int(round(ring_s * self.sr))))
        self.input_device: InputDevice | None = None
        self.error: str | None = None
        self.clip_count = 0
        self.status_flags = 0              # callbacks that reported over/underflow
        self.input_overflows = 0           # ... that said input was lost (the take has a gap there)
        self.n_callbacks = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._chunks: list[np.ndarray] = []
        self._n_kept = 0
        self._peaks: collections.deque = collections.deque(
            maxlen=max(1, int(math.ceil(LEVEL_WINDOW_S * self.sr / self.block))))
        self._stream: Any = None
        self._file: Any = None
        self._writer: threading.Thread | None = None
        self._recording = False
        self._stopping = False
        self._disk_failed = False
        self._device_lost = False
        self._stream_finished = False
        self._last_cb = 0.0
        self._result: RecordingResult | None = None

    # ---- state the GUI polls -------------------------------------------------------------------
    @property
    def is_recording(self) -> bool:
        """True from start() until stop() or until the device vanished."""
        return self._recording and not self._device_lost

    @property
    def elapsed_s(self) -> float:
        """Seconds of audio captured so far."""
        return self.ring.total_written / self.sr

    @property
    def level_dbfs(self) -> float:
        """Peak level of the last ~50 ms in dB re full scale (SILENCE_DBFS for digital silence)."""
        peaks = list(self._peaks)
        peak = max(peaks) if peaks else 0.0
        return 20.0 * math.log10(peak) if peak > 10 ** (SILENCE_DBFS / 20) else SILENCE_DBFS

    @property
    def clipped(self) -> bool:
        """Any sample at |x| >= 0.999 since start."""
        return self.clip_count > 0

    @property
    def disk_failed(self) -> bool:
        return self._disk_failed

    def samples(self) -> np.ndarray:
        """The whole take so far (float32 mono, as processed by the writer thread)."""
        chunks = list(self._chunks)
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    # ---- start / stop --------------------------------------------------------------------------
    def start(self) -> None:
        """Open the file and the input stream; raises CaptureError with what to do on failure."""
        if self._recording:
            raise CaptureError("Already recording.")
        import soundfile as sf

        sd = _sd()
        dev = resolve_input_device(self.device)
        self.input_device = dev
        channels = max(1, min(self.channels, dev.max_input_channels))
        fmt, subtype = _subtype_for(self.path)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise CaptureError(f"The folder {folder} does not exist; choose another folder for takes.")
        try:
            self._file = sf.SoundFile(self.path, "w", samplerate=self.sr, channels=1, format=fmt,
                                      subtype=subtype)
        except Exception as exc:
            raise CaptureError(f"Cannot write the take to {self.path} ({exc}); choose another "
                               "folder for takes.") from exc
        self._last_cb = time.monotonic() + self.start_timeout_s - self.stall_s
        try:
            self._stream = sd.InputStream(
                device=dev.index, samplerate=self.sr, channels=channels, dtype="float32",
                blocksize=self.block, latency=STREAM_LATENCY, callback=self._callback,
                finished_callback=self._on_finished)
            self._stream.start()
        except Exception as exc:
            self._close_stream()
            self._file.close()
            self._file = None
            raise CaptureError(f"Cannot record from {dev.name} at {self.sr} Hz ({exc}); choose "
                               "another input device or sample rate in Settings.") from exc
        self._recording = True
        self._writer = threading.Thread(target=self._write_loop, name="musicdesk-take-writer",
                                        daemon=True)
        self._writer.start()

    def stop(self) -> RecordingResult:
        """Stop the stream, finish the file and report; safe to call more than once."""
        if self._result is not None:
            return self._result
        if self._writer is None:
            raise CaptureError("The recorder was never started.")
        self._stopping = True
        self._close_stream()
        self._queue.put(None)
        self._writer.join()
        self._recording = False
        recovered = None
        if self._disk_failed:
            recovered = self._write_recovery()
        self._result = RecordingResult(path=self.path, duration_s=self._n_kept / self.sr, sr=self.sr,
                                       error=self.error, recovered_path=recovered)
        return self._result

    def save_to(self, path: str | os.PathLike) -> str:
        """Write the whole take kept in memory to `path` (.wav/.flac): the way out after a disk error."""
        import soundfile as sf

        p = os.fspath(path)
        fmt, subtype = _subtype_for(p)
        try:
            sf.write(p, self.samples(), self.sr, format=fmt, subtype=subtype)
        except Exception as exc:
            raise CaptureError(f"Cannot save the take to {p} ({exc}); choose another folder.") from exc
        return p

    # ---- audio thread --------------------------------------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        """PortAudio thread: copy the block (mono) into the ring and the queue; nothing else."""
        block = indata[:, 0].copy() if indata.shape[1] == 1 else indata.mean(axis=1, dtype=np.float32)
        self.ring.write(block)
        self._queue.put(block)
        self._last_cb = time.monotonic()
        self.n_callbacks += 1
        if status:
            self.status_flags += 1
            if status.input_overflow:
                self.input_overflows += 1

    def _on_finished(self) -> None:
        self._stream_finished = True

    def _close_stream(self) -> None:
        """Stop and close the stream in a helper thread: on a vanished device PortAudio can hang. A
        vanished device's stream is aborted: stopping waits for its audio thread to finish by itself,
        which one blocked on a dead server never does (aborting cancels it)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        lost = self._device_lost or self._stream_finished
        t = threading.Thread(target=close_quietly, args=(stream, lost), name="musicdesk-stream-close",
                             daemon=True)
        t.start()
        t.join(timeout=3.0)

    # ---- writer thread -------------------------------------------------------------------------
    def _write_loop(self) -> None:
        last_flush = time.monotonic()
        while True:
            try:
                block = self._queue.get(timeout=0.05)
            except queue.Empty:
                block = None
                if not self._stopping and not self._device_lost:
                    self._check_device()
                    if self._device_lost:
                        self._drain_queue()
                        break
                continue
            if block is None:       # stop() sentinel: everything before it is in
                self._drain_queue()
                break
            self._take_block(block)
            if self._file is not None and time.monotonic() - last_flush >= self.flush_s:
                self._guard_disk(self._file.flush)
                last_flush = time.monotonic()
        self._close_file()

    def _drain_queue(self) -> None:
        while True:
            try:
                block = self._queue.get_nowait()
            except queue.Empty:
                return
            if block is not None:
                self._take_block(block)

    def _take_block(self, block: np.ndarray) -> None:
        self._chunks.append(block)
        self._n_kept += len(block)
        a = np.abs(block)
        self._peaks.append(float(a.max()) if len(a) else 0.0)
        self.clip_count += int(np.count_nonzero(a >= CLIP_LEVEL))
        if self._file is not None:
            self._guard_disk(self._file.write, block)

    def _guard_disk(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # OSError (ENOSPC, EIO), libsndfile errors: keep going in memory
            self._disk_failed = True
            self.error = DISK_FULL_MESSAGE if _is_disk_full(exc) else (
                f"The take could not be written to {self.path} ({exc}): it is kept in memory; choose "
                "another folder, then save it.")
            f, self._file = self._file, None
            try:
                f.close()
            except Exception:
                pass

    def _check_device(self) -> None:
        """Called when no block arrived for a moment: decide whether the device is gone."""
        quiet_s = time.monotonic() - self._last_cb
        reason = None
        if self._stream_finished:
            reason = "the audio stream ended unexpectedly"
        elif quiet_s > self.stall_s:
            reason = (f"no audio for {quiet_s:.1f} s" if self.n_callbacks else
                      f"the device delivered no audio within {self.start_timeout_s:.0f} s")
        else:
            stream = self._stream
            try:
                if stream is not None and not stream.active and not self._stopping:
                    reason = "the audio stream stopped"
            except Exception as exc:
                reason = f"the audio stream failed ({exc})"
        if reason is None:
            return
        self._device_lost = True
        name = self.input_device.name if self.input_device else "the input device"
        dur = (self._n_kept + self._queue.qsize() * self.block) / self.sr
        where = (f"the take so far ({dur:.1f} s) is saved at {self.path}" if not self._disk_failed else
                 "the take so far is kept in memory")
        self.error = (f"Recording stopped: {name} stopped delivering audio ({reason}); it may have "
                      f"been unplugged. {where[0].upper()}{where[1:]}.")

    def _close_file(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            self._guard_disk(f.close)

    def _write_recovery(self) -> str | None:
        folder = recovery_dir(self.fallback_dir)
        name = os.path.splitext(os.path.basename(self.path))[0] or "take"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = os.path.join(folder, f"{name}-recovered-{stamp}.flac")
        try:
            os.makedirs(folder, exist_ok=True)
            self.save_to(target)
        except Exception as exc:
            self.error = (f"{self.error} Saving a copy to {folder} failed too ({exc}): the take is still "
                          "in memory; choose a folder with free space and save it.")
            return None
        self.error = (f"{self.error} A complete copy of the take was saved to {target}.")
        return target


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space" in text or "disk full" in text or "quota" in text
