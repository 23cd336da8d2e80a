"""A virtual microphone for tests: a private PulseAudio server whose null sink `vsink` comes back as
the default input `vmic` (see ../shared/PLATFORM.md).

    with virtual_microphone() as mic:
        rec = Recorder(path); rec.start()
        mic.play("take.wav").wait()
        rec.stop()

Everything runs in a fresh runtime directory; PULSE_SERVER / XDG_RUNTIME_DIR / PULSE_CLIENTCONFIG are
set in this process's environment (PortAudio's ALSA pulse plugin reads them) and restored on exit;
PortAudio is re-initialised so that sounddevice sees the new devices; the daemons are stopped by their
own process ids, even when the test fails.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

SINK = "vsink"
SOURCE = "vmic"
VMIC_SR = 44100
LADSPA_CMT = "/usr/lib/ladspa/cmt.so"   # Debian's cmt: its delay_5s is VirtualMic.delay_line
_ENV_KEYS = ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_CLIENTCONFIG", "PULSE_COOKIE")


class VirtualMicError(RuntimeError):
    """The virtual microphone could not be started; the message says what to install or check."""


@dataclass
class VirtualMic:
    """A running private PulseAudio server with a null sink and its remapped monitor as default input."""

    runtime_dir: str
    server: str                       # value for PULSE_SERVER ("unix:/path/native")
    daemon: subprocess.Popen
    keepalive: subprocess.Popen | None = None
    players: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """Environment for child processes (paplay, pactl) that talk to this server."""
        e = dict(os.environ)
        e.update(PULSE_SERVER=self.server, XDG_RUNTIME_DIR=self.runtime_dir,
                 PULSE_CLIENTCONFIG=os.path.join(self.runtime_dir, "client.conf"),
                 HOME=self.runtime_dir)
        return e

    def pactl(self, *args: str, timeout_s: float = 10.0) -> str:
        r = subprocess.run(["pactl", *args], env=self.env(), capture_output=True, text=True,
                           timeout=timeout_s)
        if r.returncode != 0:
            raise VirtualMicError(f"pactl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def play(self, audio: str | os.PathLike | np.ndarray, sr: int = VMIC_SR) -> subprocess.Popen:
        """Play a file (or a float mono array at `sr` Hz) into vsink with paplay; returns the Popen."""
        if not isinstance(audio, (str, os.PathLike)):
            import soundfile as sf

            fd, path = tempfile.mkstemp(suffix=".wav", dir=self.runtime_dir)
            os.close(fd)
            sf.write(path, np.clip(np.asarray(audio, dtype=np.float32), -1, 1), sr, subtype="FLOAT")
            audio = path
        # 200 ms of buffer: a player starved of CPU for a moment would otherwise underrun, and pulse
        # then skips the samples it missed (the take loses audio). The sink itself runs at the
        # keep-alive's 20 ms (see virtual_microphone), so captures start at once.
        p = subprocess.Popen(["paplay", f"--device={SINK}", "--latency-msec=200", os.fspath(audio)],
                             env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.players.append(p)
        return p

    @contextlib.contextmanager
    def delay_line(self, delay_s: float) -> Iterator[str]:
        """Make the default output a sink that delays by exactly `delay_s` before vsink (a LADSPA delay
        line, cmt's delay_5s, run inside pulse's render path: no buffer of its own), so what the app
        plays reaches vmic `delay_s` later than through vsink alone. Restores vsink on exit."""
        if not os.path.exists(LADSPA_CMT):
            raise VirtualMicError(f"{LADSPA_CMT} is missing: the delay line needs cmt "
                                  "(apt-get install cmt).")
        name = f"vdelay{int(round(delay_s * 1000))}"
        idx = self.pactl("load-module", "module-ladspa-sink", f"sink_name={name}",
                         f"sink_master={SINK}", "plugin=cmt", "label=delay_5s",
                         f"control={delay_s:.6f},1").strip()        # delay (s), dry/wet: all wet
        try:
            self.pactl("set-default-sink", name)
            reinit_portaudio()
            yield name
        finally:
            self.pactl("set-default-sink", SINK)
            self.pactl("unload-module", idx)
            reinit_portaudio()

    @property
    def alive(self) -> bool:
        return self.daemon.poll() is None

    def kill_server(self) -> None:
        """Kill the PulseAudio daemon (simulates the microphone being unplugged mid-take)."""
        _stop(self.keepalive, sig=signal.SIGKILL)
        _stop(self.daemon, sig=signal.SIGKILL)


def _stop(p: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout_s: float = 5.0) -> None:
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=timeout_s)
    except ProcessLookupError:
        pass


def _cpu_jiffies() -> tuple[int, int] | None:
    """(stolen, total) CPU time since boot from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (v[7] if len(v) > 7 else 0), sum(v[:8])


class CpuSteal:
    """The share of CPU time a virtual machine's host took away (steal) while the block ran, 0-1, and
    the worst `window_s` of it (`peak_share`, sampled every `sample_s`; 0 when not sampled).

    Real-time audio through the virtual microphone needs the CPU when the audio asks: with the host
    taking 40-90% (measured here on bad days), PulseAudio's loopback timing wavers however the app
    behaves. A test can record again then, or say the machine was unfit. A take's average can hide a
    second in which the host took nearly all of it (10% over a 10 s take), hence the peak."""

    LIMIT = 0.2       # more than this on average, and a take is not a fair test of the app
    PEAK_LIMIT = 0.5  # ... or more than this in its worst second

    def __init__(self, sample_s: float | None = 0.25, window_s: float = 1.0) -> None:
        self.sample_s, self.window_s = sample_s, window_s
        self.share = self.peak_share = 0.0
        self._t0 = None

    def __enter__(self) -> "CpuSteal":
        import threading

        self.share = self.peak_share = 0.0
        self._t0 = _cpu_jiffies()
        self._stop = threading.Event()
        self._sampler = None
        if self.sample_s and self._t0 is not None:
            self._sampler = threading.Thread(target=self._sample, daemon=True, name="cpu-steal")
            self._sampler.start()
        return self

    def _sample(self) -> None:
        window = [self._t0]
        keep = max(1, int(round(self.window_s / self.sample_s)))
        while not self._stop.wait(self.sample_s):
            t = _cpu_jiffies()
            if t is None:
                return
            window = (window + [t])[-(keep + 1):]
            d_total = t[1] - window[0][1]
            if len(window) == keep + 1 and d_total > 0:     # a whole window, not the first moments
                self.peak_share = max(self.peak_share, (t[0] - window[0][0]) / d_total)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
        t1 = _cpu_jiffies()
        if self._t0 is not None and t1 is not None and t1[1] > self._t0[1]:
            self.share = (t1[0] - self._t0[0]) / (t1[1] - self._t0[1])

    @property
    def starved(self) -> bool:
        return self.share > self.LIMIT or self.peak_share > self.PEAK_LIMIT

    @property
    def figures(self) -> str:
        """'12% (worst second 60%)': for messages."""
        peak = f" (worst second {100 * self.peak_share:.0f}%)" if self._sampler is not None else ""
        return f"{100 * self.share:.0f}%{peak}"

    @property
    def measurable(self) -> bool:
        """Whether this machine says what its host takes (/proc/stat was readable at the start)."""
        return self._t0 is not None


def retried_when_starved(test: Callable, tries: int = 3) -> Callable:
    """A real-time audio test, run again (up to `tries`) when it fails while the host took the CPU
    away (CpuSteal.starved); a failure on a machine that was not starved fails at once, and one
    starved in every try is skipped with the figures."""
    import functools

    import pytest

    @functools.wraps(test)
    def run(*args, **kwargs):
        shares = []
        for _ in range(tries):
            steal = CpuSteal()
            try:
                with steal:
                    return test(*args, **kwargs)
            except AssertionError:
                shares.append(steal.figures)
                if not steal.starved:
                    raise
        pytest.skip(f"failed in every try while the machine's host took {shares} of its CPU")

    return run


def reinit_portaudio(timeout_s: float = 30.0) -> None:
    """sounddevice caches PortAudio's device list at import: terminate and initialise it again.

    In a helper thread, waited for `timeout_s`: PortAudio's C calls release the GIL, so one that blocks
    (a stream of a killed server still closing) would hang the test run past any pytest timeout. A
    stuck one fails the test instead, with every thread's stack on stderr."""
    import faulthandler
    import sys
    import threading

    import sounddevice as sd

    def reinit() -> None:
        sd._terminate()
        sd._initialize()

    t = threading.Thread(target=reinit, name="vmic-portaudio-reinit", daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise VirtualMicError(f"PortAudio did not re-initialise within {timeout_s:.0f} s (stacks above)")


@contextlib.contextmanager
def virtual_microphone(settle_s: float = 2.0, start_timeout_s: float = 10.0) -> Iterator[VirtualMic]:
    """Start a private PulseAudio (vsink -> vmic, both defaults), yield it, stop it on exit."""
    for tool in ("pulseaudio", "pactl", "pacat", "paplay"):
        if shutil.which(tool) is None:
            raise VirtualMicError(
                f"`{tool}` is not installed: the virtual microphone needs PulseAudio "
                "(apt-get install pulseaudio pulseaudio-utils libasound2-plugins libportaudio2).")
    rundir = tempfile.mkdtemp(prefix="musicdesk-vmic-")
    sock = os.path.join(rundir, "native")
    with open(os.path.join(rundir, "client.conf"), "w") as f:
        f.write("autospawn = no\n")  # a killed server must stay dead (device-vanished tests)
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    log = open(os.path.join(rundir, "pulseaudio.log"), "w")
    daemon_env = dict(os.environ, XDG_RUNTIME_DIR=rundir, HOME=rundir)
    daemon_env.pop("PULSE_SERVER", None)
    daemon = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
         "--use-pid-file=no", "--log-target=stderr", "--log-level=error",
         "-L", f"module-native-protocol-unix auth-anonymous=1 socket={sock}",
         "-L", f"module-null-sink sink_name={SINK} rate={VMIC_SR} channels=1",
         "-L", f"module-remap-source master={SINK}.monitor source_name={SOURCE}"],
        env=daemon_env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=rundir)
    mic = VirtualMic(runtime_dir=rundir, server=f"unix:{sock}", daemon=daemon)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if daemon.poll() is not None:
                log.flush()
                with open(os.path.join(rundir, "pulseaudio.log")) as f:
                    raise VirtualMicError(f"pulseaudio exited at start (status {daemon.returncode}): "
                                          f"{f.read().strip()[-800:]}")
            if os.path.exists(sock):
                try:
                    mic.pactl("info", timeout_s=2.0)
                    break
                except (VirtualMicError, subprocess.TimeoutExpired):
                    pass
            if time.monotonic() > deadline:
                raise VirtualMicError(f"pulseaudio did not answer within {start_timeout_s:.0f} s")
            time.sleep(0.05)
        mic.pactl("set-default-sink", SINK)
        mic.pactl("set-default-source", SOURCE)
        # A silent stream keeps the sink running; without it the first capture starts 1-2 s late.
        # Its low latency sets the sink's: with pulse's default 2 s stream buffer the null sink
        # renders in 2 s chunks and a capture's first block arrives about 2 s late.
        mic.keepalive = subprocess.Popen(
            ["pacat", "--playback", f"--device={SINK}", "--latency-msec=20", "--format=s16le",
             f"--rate={VMIC_SR}", "--channels=1", "--raw", "/dev/zero"],
            env=mic.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.environ.update(PULSE_SERVER=mic.server, XDG_RUNTIME_DIR=rundir,
                          PULSE_CLIENTCONFIG=os.path.join(rundir, "client.conf"))
        time.sleep(settle_s)
        reinit_portaudio()
        yield mic
    finally:
        for p in mic.players:
            _stop(p, timeout_s=2.0)
        _stop(mic.keepalive)
        _stop(daemon)
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        stuck = None
        try:
            reinit_portaudio()
        except VirtualMicError as exc:     # PortAudio hangs: say so rather than let the run hang later
            stuck = exc
        except Exception:
            pass
        shutil.rmtree(rundir, ignore_errors=True)
        if stuck is not None:
            raise stuck
