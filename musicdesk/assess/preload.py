"""An assessment network loaded in a child process, so that importing torch and reading the weights
(about 1.4 s on a 2-core CPU) run on another core while this process reads the take, tracks its pitch
and aligns it. Threads cannot do that: an import holds Python's GIL, and so does most of the work it
would overlap with.

`NetworkProcess` rates like `musicdesk.assess.predict.Assessor`, to the last bit: the inputs are built
here (build_input, whose numba kernels this process has loaded anyway), and the child runs the same
`rate_inputs` on them. If the child cannot start or dies, the network is loaded here instead; missing
or damaged weights raise the same ModelError as in-process loading.

The child is `python -m musicdesk.assess.preload NAME [DEVICE]`: it answers pickled AssessInputs on
stdin with pickled ratings on its own stdout, until stdin closes.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np

from musicdesk.assess.features import build_input, distance_image, take_path


class NetworkProcess:
    """The network `name` loading (then loaded) on `device` ("auto"/None: cuda, mps, then cpu) in a
    child process started at construction."""

    def __init__(self, name: str, device: str | None = None):
        import musicdesk

        self.name = name
        self.device = device
        self._lock = threading.Lock()
        self._hello: dict | None = None
        self._local = None           # an in-process Assessor, if the child failed
        root = os.path.dirname(os.path.dirname(os.path.abspath(musicdesk.__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", "musicdesk.assess.preload", name, device or ""],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                stderr=None if os.environ.get("MUSICDESK_DEBUG") else subprocess.DEVNULL)
        except OSError:
            self._proc = None

    def rate(self, perf_midi: np.ndarray, score_midi: np.ndarray, onset_frames: np.ndarray | None = None,
             note_onsets_s: np.ndarray | None = None, score_onsets_s: np.ndarray | None = None):
        """As Assessor.rate: the network's Assessment of one take from its contour frames, score frames
        and score onset frames (musicdesk.assess.predict.take_frames), and the aligner's note onsets."""
        with self._lock:
            if self._local is None:
                result = self._rate_in_child(perf_midi, score_midi, onset_frames, note_onsets_s, score_onsets_s)
                if result is not None:
                    return result
                self._fall_back()
        return self._local.rate(perf_midi, score_midi, onset_frames, note_onsets_s, score_onsets_s)

    def _rate_in_child(self, perf_midi, score_midi, onset_frames, note_onsets_s=None, score_onsets_s=None):
        """The child's Assessment, or None if the child is not there or failed."""
        from musicdesk.assess.predict import Assessment, build_inputs

        if self._proc is None:
            return None
        t = time.perf_counter()
        # built while the child loads, as the DTW-path networks take it (note_timing from the DTW path);
        # inputs for weights that judge the aligner's onsets are built below, once the child says so
        path = take_path(perf_midi, score_midi)   # the DTW every member's input shares
        built = {"dtw": build_input(perf_midi, score_midi, onset_frames, with_distmat=False, path=path)}
        hello = self._read_hello()
        if hello.get("model_error"):
            from musicdesk.assess.weights import ModelError

            raise ModelError(hello["model_error"])
        if not hello.get("ok"):
            return None
        inp = build_inputs(hello.get("info", {}), perf_midi, score_midi, onset_frames, False, note_onsets_s,
                           score_onsets_s, built, path)
        if "distmat" in hello["uses"]:   # as build_input(with_distmat=True) would
            inp = replace(inp, distmat=distance_image(inp.contour_midi, score_midi))
        reply = self._ask(inp)
        if reply is None or not reply.get("ok"):
            return None
        return Assessment(hello["display_name"], hello["device"],
                          dict(zip(hello["criteria"], map(float, reply["ratings"]))),
                          time.perf_counter() - t, reply["embedding"], hello.get("weights_id", ""))

    def _read_hello(self) -> dict:
        if self._hello is None:
            try:
                self._hello = pickle.load(self._proc.stdout)
            except Exception:   # noqa: BLE001 - the child died or said something unreadable
                self._hello = {"ok": False}
        return self._hello

    def _ask(self, inp) -> dict | None:
        try:
            pickle.dump(inp, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
            return pickle.load(self._proc.stdout)
        except Exception:   # noqa: BLE001
            return None

    def _fall_back(self) -> None:
        """Load the network in this process (the child could not do it for a reason other than the
        weights: it may not start, or torch fails there)."""
        from musicdesk.assess.predict import Assessor

        self.close()
        self._local = Assessor(self.name, self.device)

    def close(self) -> None:
        """End the child: an idle one exits when its stdin closes; one still loading is killed."""
        p, self._proc = self._proc, None
        if p is None:
            return
        try:
            if self._hello is None:
                p.kill()
            p.stdin.close()
            p.wait(timeout=2)
        except Exception:   # noqa: BLE001
            p.kill()
            p.wait()
        finally:
            if p.stdout is not None:
                p.stdout.close()


def _input_info(info: dict) -> dict:
    """What the parent needs of the weights' info to build the network's inputs (predict.build_inputs)."""
    out = {k: v for k, v in info.items() if k == "note_onsets"}
    if "members" in info:
        out["members"] = [{k: v for k, v in m.items() if k == "note_onsets"} for m in info["members"]]
    return out


def _child(name: str, device: str | None) -> None:
    """Load the network, say so (or why not), then rate AssessInputs from stdin until it closes."""
    out = os.fdopen(os.dup(1), "wb")   # the answers; anything printed goes to stderr instead
    os.dup2(2, 1)
    inp = sys.stdin.buffer

    def send(obj: dict) -> None:
        pickle.dump(obj, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        from musicdesk.assess.predict import Assessor, rate_inputs
        from musicdesk.assess.weights import ModelError
    except Exception:   # noqa: BLE001 - e.g. torch does not import: the parent loads it and says why
        send({"ok": False})
        return
    try:
        a = Assessor(name, device)
    except ModelError as exc:   # missing or damaged weights: the parent raises the same error
        send({"ok": False, "model_error": str(exc)})
        return
    except Exception:   # noqa: BLE001
        send({"ok": False})
        return
    send({"ok": True, "display_name": a.display_name, "device": a.device.type, "criteria": tuple(a.criteria),
          "uses": tuple(a.model.uses), "weights_id": a.weights_id,
          "info": _input_info(a.info)})
    while True:
        try:
            x = pickle.load(inp)
        except EOFError:
            return
        try:
            vals, emb = rate_inputs(a.model, [x], a.device)
            send({"ok": True, "ratings": vals[0], "embedding": emb[0]})
        except Exception:   # noqa: BLE001 - the parent rates in-process and reports what is wrong
            send({"ok": False})


if __name__ == "__main__":
    try:
        _child(sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "") or None)
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(0)   # no interpreter teardown (about 0.5 s with torch loaded)
