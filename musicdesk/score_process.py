"""Read a score in a child process while this one reads the take and tracks its pitch.

A score never read before costs a fresh `musicdesk analyze` about 0.4 s: importing music21 (about 0.3 s)
and parsing. The pitch tracker needs no score, so the command starts the score's reading in a child
(`python -m musicdesk.score_process`), tracks the take meanwhile, and only then waits for the Score.
A score read before comes from the parsed-score cache (musicdesk.score) in this process, with no child.
MUSICDESK_SCORE_CHILD=off reads the score in this process at once, before the take (as before 2026-12-07).

The child runs the same `load_score` (which also fills the cache for the next run) and answers a
pickled Score, or the ScoreError's message. If it cannot start, dies or fails for another reason, the
score is read here instead, so every error is the one `load_score` gives.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

from musicdesk.score import Score, ScoreError, load_cached_score, load_score


CHILD_ENV = "MUSICDESK_SCORE_CHILD"   # "off": read the score in this process, before the take


class PendingScore:
    """One part of a score file (as `load_score(path, part, tempo_bpm)`), being read in a child
    process unless the parsed-score cache has it; `result()` waits for it."""

    def __init__(self, path: str | os.PathLike, part: str | int | None = None, tempo_bpm: float | None = None):
        self._args = (os.fspath(path), part, tempo_bpm)
        self._score: Score | None = None
        self._proc: subprocess.Popen | None = None
        try:
            self._score = load_cached_score(path, part, tempo_bpm)
        except ScoreError:
            self._score = None      # result() reads it here and raises the error then
            return
        if self._score is not None:
            return
        if os.environ.get(CHILD_ENV, "").lower() in ("off", "0", "no"):
            self._score = load_score(path, part, tempo_bpm)    # read here, now (and its errors now)
            return
        import musicdesk

        root = os.path.dirname(os.path.dirname(os.path.abspath(musicdesk.__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "musicdesk.score_process"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                          stderr=None if os.environ.get("MUSICDESK_DEBUG") else subprocess.DEVNULL)
            pickle.dump(self._args, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.close()
        except (OSError, pickle.PicklingError):
            self._close()

    def result(self) -> Score:
        """The Score; raises ScoreError (the message says what to do) as `load_score` would."""
        if self._score is None:
            reply = self._reply()
            if reply.get("ok"):
                self._score = reply["score"]
            elif "error" in reply:
                raise ScoreError(reply["error"])
            else:   # no child, or it failed for another reason: read it here, with load_score's errors
                self._score = load_score(*self._args)
        return self._score

    def _reply(self) -> dict:
        if self._proc is None:
            return {"ok": False}
        try:
            reply = pickle.load(self._proc.stdout)
        except Exception:   # noqa: BLE001 - the child died or said something unreadable
            reply = {"ok": False}
        self._close()
        return reply if isinstance(reply, dict) else {"ok": False}

    def _close(self) -> None:
        p, self._proc = self._proc, None
        if p is None:
            return
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        finally:
            for f in (p.stdin, p.stdout):
                if f is not None and not f.closed:
                    f.close()

    def cancel(self) -> None:
        """End the child without waiting for its answer (the command stops early)."""
        if self._proc is not None:
            self._proc.kill()
        self._close()


def _child() -> None:
    """Read (path, part, tempo_bpm) from stdin; answer the pickled Score or the ScoreError's message."""
    out = os.fdopen(os.dup(1), "wb")   # the answer; anything printed goes to stderr instead
    os.dup2(2, 1)
    try:
        path, part, tempo_bpm = pickle.load(sys.stdin.buffer)
        reply = {"ok": True, "score": load_score(path, part, tempo_bpm)}
    except ScoreError as exc:
        reply = {"ok": False, "error": str(exc)}
    except Exception:   # noqa: BLE001 - the parent reads the score itself and reports what is wrong
        reply = {"ok": False}
    pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


if __name__ == "__main__":
    try:
        _child()
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(0)   # no interpreter teardown (music21's is slow)
