"""`musicdesk <command>`: the command line, a stable contract for people, tests and other tools.

    musicdesk analyze SCORE AUDIO [--part P] [--tempo BPM] [--tracker NAME] [--json OUT] [--all]
                      [--assess MODEL|none] [--device auto|cpu|cuda|mps] [--calibration FILE]
    musicdesk analyze SCORE AUDIO [AUDIO ...] --json-dir DIR   many takes of one score, one JSON each
    musicdesk analyze SCORE ENSEMBLE_AUDIO --part P --ensemble   one part of an ensemble recording
    musicdesk calibrate GRADES.csv [--assess MODEL] [--out FILE]   learn a teacher's grading
    musicdesk parts SCORE
    musicdesk demo            analyse the bundled example take against the bundled example score
    musicdesk attributes | vary | inpaint MELODY ...   the melody lab (musicdesk/melody/cli.py)
    musicdesk separate AUDIO --score SCORE [--parts P,...] [--out DIR] [--format wav|flac] [--json OUT]
                      stems and minus-one mixes of an ensemble recording (musicdesk/separate/cli.py)
    musicdesk [SCORE] [--part P] [--take AUDIO] [--screenshot PNG]   open the window

Bad input gets a one-line error on stderr and exit status 2 (never a traceback).

Start-up: this module imports only the standard library; each command imports what it needs when it
runs, so `musicdesk --help` never loads numpy, numba or torch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Sequence

from musicdesk.history.cli import COMMANDS as HISTORY_COMMANDS  # standard library only
from musicdesk.melody.cli import COMMANDS as MELODY_COMMANDS   # standard library only
from musicdesk.separate.cli import COMMANDS as SEPARATE_COMMANDS  # standard library only

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1

# The exceptions that mean bad input, as (module, class). They are looked up only in modules already
# imported (a class can only have been raised once its module is loaded), so that handling them
# imports nothing: musicdesk.assess.weights alone would import torch.
BAD_INPUT_ERRORS = (("musicdesk.score", "ScoreError"), ("musicdesk.audio", "AudioError"),
                    ("musicdesk.analysis", "AnalysisError"), ("musicdesk.assess.calibrate", "CalibrationError"),
                    ("musicdesk.melody.tokens", "MelodyError"), ("musicdesk.assess.weights", "ModelError"),
                    ("musicdesk.history.db", "HistoryError"),
                    ("musicdesk.separate.core", "SeparationError"))


def is_bad_input(exc: BaseException) -> bool:
    """Whether `exc` is one of musicdesk's bad-input errors (or a ValueError, e.g. an unknown tracker)."""
    if isinstance(exc, (_BadInput, ValueError)):
        return True
    for module, name in BAD_INPUT_ERRORS:
        m = sys.modules.get(module)
        if m is not None and isinstance(exc, getattr(m, name)):
            return True
    return False


def format_report(analysis, score, take_path: str, show_all: bool = False, calibrated: dict | None = None,
                  concert: bool = False) -> str:
    """The readable report printed by `musicdesk analyze` (note names at written pitch, or concert)."""
    from musicdesk.describe import describe_note, expected_name, extra_name, fmt_beat as _fmt_beat, pitch_names_note

    rep = analysis.report
    s = rep.summary
    lines = [f"Score: {score.title or os.path.basename(score.source_path)} - part {score.part}, "
             f"{s['n_notes']} notes, score tempo {score.tempo_bpm:.0f} bpm"
             + (f", played at about {s['played_tempo_bpm']:.0f} bpm" if s["played_tempo_bpm"] else ""),
             f"Take:  {os.path.basename(take_path)}, tracker {analysis.contour.tracker}"]
    for w in rep.warnings:
        lines.append(f"Note:  {w}")
    for m in getattr(rep, "remarks", ()):
        lines.append(f"Tuning: {m}")
    if pitch_names_note(score, concert):
        lines.append(f"Names: {pitch_names_note(score, concert)}")
    rows = [(r, describe_note(r, concert)) for r in rep.notes]
    rows = [(r, d) for r, d in rows if show_all or d]
    if rows:
        lines.append("")
        lines.append(f"{'bar':>4} {'beat':>5}  {'note':<5} what happened")
        for r, d in rows:
            lines.append(f"{r.measure:>4} {_fmt_beat(r.beat):>5}  {expected_name(r, concert):<5} {d or 'ok'}")
    else:
        lines.append("\nEvery note was right, in tune and on time.")
    if rep.extra_notes:
        lines.append("")
        lines.append("Extra notes (not in the score): " + ", ".join(
            f"{e.onset_s:.2f} s {extra_name(e, '?', concert)}" for e in rep.extra_notes))
    lines.append("")
    mac = s["median_abs_cents"]
    spread = s["timing_spread_ms"]
    lines.append(f"Summary: {s['n_correct']}/{s['n_notes']} notes correct ({s['percent_correct']:.1f}% of "
                 f"the {100 * s['coverage']:.0f}% of the score played), {s['n_wrong_pitch']} wrong, "
                 f"{s['n_missed']} missed, {s['n_extra']} extra; median |cents| "
                 f"{'-' if mac is None else f'{mac:.0f}'}, timing spread {'-' if spread is None else f'{spread:.0f} ms'}")
    rt = rep.ratings
    lines.append(f"Ratings: note accuracy {rt['note_accuracy']:.2f}, rhythmic accuracy "
                 f"{rt['rhythmic_accuracy']:.2f}, intonation {rt['intonation']:.2f}")
    a = analysis.assessment
    if a is not None:
        lines.append(f"Network ({a.model} on {a.device}): " + ", ".join(
            f"{k.replace('_', ' ')} {v:.2f}" for k, v in a.ratings.items()))
    elif analysis.assessment_error:
        lines.append(f"Network ratings unavailable: {analysis.assessment_error}")
    if calibrated:
        lines.append("Your teacher's scale: " + ", ".join(f"{k.replace('_', ' ')} {v:.1f}"
                                                          for k, v in calibrated.items()))
    return "\n".join(lines)


def _cmd_analyze(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    takes = list(args.audio)
    if len(takes) > 1 and args.json:
        raise _BadInput(f"--json OUT holds the report of one take, and {len(takes)} takes were given; "
                        "use --json-dir DIR for one JSON per take")
    model = None if (args.assess or "").lower() == "none" else (args.assess or _default_model())
    _check_names(args.tracker, model, args.device)
    if model:
        _preload_network(model, args.device)      # while the score is read and the first take analysed
    try:
        return _analyze_takes(args, takes, model, t0)
    finally:
        _stop_network()


def _analyze_takes(args: argparse.Namespace, takes: list[str], model: str | None, t0: float) -> int:
    from musicdesk.score_process import PendingScore

    # a score never read before is read in another process while the first take's pitch is tracked
    pending = PendingScore(args.score, part=_part_arg(args.part), tempo_bpm=args.tempo)
    try:
        return _analyze_pending(args, takes, model, t0, pending)
    finally:
        pending.cancel()


def _analyze_pending(args: argparse.Namespace, takes: list[str], model: str | None, t0: float, pending) -> int:
    try:
        if args.json_dir:
            try:
                os.makedirs(args.json_dir, exist_ok=True)
            except OSError as exc:
                raise _BadInput(f"Cannot create the folder {args.json_dir}: {exc.strerror or exc}") from exc
            outs = json_paths(takes, args.json_dir)
        else:
            outs = [args.json] * len(takes)
        calibration = _Calibration(args.calibration)
    except Exception:
        pending.result()      # a broken score is said first
        raise
    if len(takes) == 1:
        # the stem of an ensemble recording is cut with the score: no tracking before it is read
        score = pending.result() if getattr(args, "ensemble", False) else pending
        _analyze_one(args, score, takes[0], model, outs[0], calibration, t0, table=None)
        return 0
    score = pending.result()
    table = _BatchTable(takes, bool(args.json_dir), score, quiet=args.quiet)
    n_bad = n_internal = 0
    for take_path, out in zip(takes, outs):
        try:
            _analyze_one(args, score, take_path, model, out, calibration, time.perf_counter(), table=table)
        except _Fatal:
            raise
        except Exception as exc:  # one bad take does not stop the batch
            if is_bad_input(exc):
                n_bad += 1
                print(f"musicdesk: error: {take_path}: {exc}", file=sys.stderr, flush=True)
            elif os.environ.get("MUSICDESK_DEBUG"):
                raise
            else:
                n_internal += 1
                print(f"musicdesk: internal error: {take_path}: {type(exc).__name__}: {exc} "
                      "(set MUSICDESK_DEBUG=1 for details and please report it)", file=sys.stderr, flush=True)
            table.failed(take_path)
    table.close(n_bad + n_internal)
    return EXIT_BAD_INPUT if n_bad else (EXIT_INTERNAL if n_internal else 0)


def _analyze_one(args: argparse.Namespace, score, take_path: str, model: str | None, json_out: str | None,
                 calibration: "_Calibration", t0: float, table: "_BatchTable | None") -> None:
    """Analyse one take and write its JSON (if asked) and its report (or, in a batch, its table line).
    `score`: a Score, or a PendingScore that is waited for once the take's pitch is tracked (an error
    in the score is still the one reported first)."""
    from musicdesk.analysis import analyze, track
    from musicdesk.audio import load_take
    from musicdesk.pitch import DEFAULT_TRACKER

    kwargs = {"tracker": args.tracker} if args.tracker else {}
    contour, timings = None, {}
    if hasattr(score, "result"):
        try:
            take = load_take(take_path)
            t = time.perf_counter()
            contour = track(take, args.tracker or DEFAULT_TRACKER)
            timings["pitch"] = time.perf_counter() - t
        except Exception:
            score.result()    # a broken score is said first, as when it was read before the take
            raise
        score = score.result()
    else:
        take = load_take(take_path)
    if getattr(args, "ensemble", False):   # one part of an ensemble recording: analyse its stem
        from musicdesk.separate.core import part_stem

        take = part_stem(args.score, score, take, tempo_bpm=args.tempo)
    if getattr(args, "a4", None):
        from musicdesk.feedback import Tolerances

        kwargs["tolerances"] = Tolerances(reference_a4_hz=args.a4)
    analysis = analyze(score, take, assess_model=model, device=args.device, contour=contour, **kwargs)
    analysis.timings_s.update(timings)
    calibrated = calibration.grades(analysis) if model else None
    if json_out:
        out = analysis.report.to_json_dict()
        if analysis.assessment is not None:
            out["assessment"] = analysis.assessment.to_json_dict()
            if calibrated:
                out["assessment"]["teacher_calibrated"] = {k: round(v, 3) for k, v in calibrated.items()}
        elif analysis.assessment_error:
            out["assessment"] = {"model": model, "error": analysis.assessment_error}
        out["score"] = {"path": os.path.abspath(args.score), "part": score.part, "title": score.title,
                        "tempo_bpm": score.tempo_bpm}
        out["take"] = {"path": os.path.abspath(take_path), "duration_s": round(take.duration_s, 3)}
        if getattr(args, "ensemble", False):
            out["take"]["ensemble"] = {"part": score.part, "method": "stem separated by musicdesk.separate"}
        out["timings_s"] = {k: round(v, 4) for k, v in analysis.timings_s.items()}
        out["timings_s"]["total"] = round(time.perf_counter() - t0, 4)
        try:
            with open(json_out, "w", encoding="utf-8") as fh:
                json.dump(out, fh, indent=1)
        except OSError as exc:
            raise _Fatal(f"Cannot write the JSON report to {json_out}: {exc.strerror or exc}") from exc
    saved = _saver(args, score).save(take_path, analysis, score) if getattr(args, "save", False) else None
    if table is not None:
        table.row(take_path, analysis, json_out)
    elif not args.quiet:
        print(format_report(analysis, score, take_path, show_all=args.all, calibrated=calibrated,
                            concert=getattr(args, "concert_pitch", False)))
        if saved is not None:
            print(f"Saved in the practice history as take {str(saved)[:8]} (`musicdesk history show {str(saved)[:8]}`)")


class _Saver:
    """`analyze --save`: the history store, opened once per command, and the student and piece."""

    def __init__(self, args: argparse.Namespace, score):
        from musicdesk.history.keep import login_name
        from musicdesk.history.store import Store

        self.store = Store(args.db)
        self.student = self.store.person(args.student or login_name())
        self.piece = self.store.piece(score.source_path, score.part, score.title or "")
        self.assignment = self.store.resolve_assignment(args.assignment) if getattr(args, "assignment", None) \
            else None

    def save(self, take_path: str, analysis, score):
        from musicdesk.history.records import analysis_record

        take = self.store.save_take(self.student, self.piece, take_path, record=analysis_record(analysis),
                                    tempo_bpm=score.tempo_bpm)
        if self.assignment is not None:   # checked there: the assignment's piece and part, and student
            self.store.submit(self.assignment, [take])
        return take


_savers: dict = {}


def _saver(args: argparse.Namespace, score) -> _Saver:
    key = id(args)
    if key not in _savers:
        _savers[key] = _Saver(args, score)
    return _savers[key]


def json_paths(takes: Sequence[str], folder: str) -> list[str]:
    """One JSON path in `folder` per take, named after the take file (take.flac -> take.json); takes
    whose names clash (a/take.wav, b/take.wav, take.flac) get take-2.json, take-3.json, ... in order."""
    used: set[str] = set()
    out = []
    for t in takes:
        stem = os.path.splitext(os.path.basename(os.path.normpath(t)))[0] or "take"
        name, k = f"{stem}.json", 1
        while name.lower() in used:
            k += 1
            name = f"{stem}-{k}.json"
        used.add(name.lower())
        out.append(os.path.join(folder, name))
    return out


class _BatchTable:
    """The batch form's output: the score (and its own warnings, once), a header, then one line per
    take as it is done (the notes right, wrong, missed and extra; the report's ratings; the network's,
    "net:"; the take's JSON), with the take's own warnings indented below it. Errors go to stderr. If
    stdout goes away (`... | head`), printing stops and the takes are still analysed."""

    COLUMNS = ("correct", "wrong", "missed", "extra", "notes", "rhythm", "intonation",
               "net:notes", "rhythm", "intonation")

    def __init__(self, takes: Sequence[str], with_json: bool, score, quiet: bool = False):
        self.width = max([4] + [len(os.path.basename(t)) for t in takes])
        self.quiet = quiet
        self.n = len(takes)
        self.score_warnings = set(score.warnings)
        self._print(f"Score: {score.title or os.path.basename(score.source_path)} - part {score.part}, "
                    f"{len(score.notes)} notes, score tempo {score.tempo_bpm:.0f} bpm; {self.n} takes")
        for w in score.warnings:
            self._print(f"Note:  {w}")
        self._print(f"{'take':<{self.width}}  " + " ".join(self.COLUMNS) + ("  json" if with_json else ""))

    def _print(self, line: str) -> None:
        if self.quiet:
            return
        try:
            print(line, flush=True)
        except BrokenPipeError:   # the reader is gone: go on quietly (the JSONs are still written)
            self.quiet = True
            sys.stdout = open(os.devnull, "w")

    def _line(self, take_path: str, cells: Sequence[str], json_out: str | None = None) -> str:
        body = " ".join(f"{c:>{len(h)}}" for c, h in zip(cells, self.COLUMNS))
        return f"{os.path.basename(take_path):<{self.width}}  {body}" + (f"  {json_out}" if json_out else "")

    def row(self, take_path: str, analysis, json_out: str | None) -> None:
        s, r, a = analysis.report.summary, analysis.report.ratings, analysis.assessment
        keys = ("note_accuracy", "rhythmic_accuracy", "intonation")
        cells = [f"{s['n_correct']}/{s['n_notes']}", str(s["n_wrong_pitch"]), str(s["n_missed"]), str(s["n_extra"]),
                 *(f"{r[k]:.2f}" for k in keys),
                 *((f"{a.ratings[k]:.2f}" for k in keys) if a is not None else ("-",) * 3)]
        self._print(self._line(take_path, cells, json_out))
        for w in analysis.report.warnings:
            if w not in self.score_warnings:
                self._print(f"    note: {w}")
        for m in getattr(analysis.report, "remarks", ()):
            self._print(f"    tuning: {m}")
        if a is None and analysis.assessment_error:
            self._print(f"    network ratings unavailable: {analysis.assessment_error}")

    def failed(self, take_path: str) -> None:
        self._print(f"{os.path.basename(take_path):<{self.width}}  failed (the error is on stderr)")

    def close(self, n_failed: int) -> None:
        self._print(f"{self.n - n_failed} of {self.n} takes analysed"
                    + (f"; {n_failed} failed (listed on stderr)" if n_failed else ""))


def _check_names(tracker: str | None, model: str | None, device: str | None = None) -> None:
    """Unknown tracker, network or device names are refused before any take is read (once, not per
    take), with the messages the analysis itself would give."""
    from musicdesk.assess import DISPLAY_NAMES
    from musicdesk.pitch import TRACKERS

    if tracker and tracker not in TRACKERS:
        raise _BadInput(f"Unknown pitch tracker {tracker!r}; choose one of: {', '.join(TRACKERS)}.")
    if model and model not in DISPLAY_NAMES:
        raise _BadInput(f"Unknown assessment network {model!r}; choose one of: {', '.join(DISPLAY_NAMES)}, or none.")
    d = (device or "auto").lower()
    if model and d not in ("auto", "cpu", "cuda", "mps") and not d.startswith("cuda:"):
        raise _BadInput(f"Unknown device {device!r}; choose auto, cuda, mps or cpu.")


def _preload_network(model: str, device: str | None) -> None:
    """Start loading the network in a child process (musicdesk.assess.predict.start_loading): importing
    torch (about 1.3 s) then runs on another core while this process reads the score and the take and
    tracks and aligns it; `analyze` rates with it. Failures there are reported by `analyze` as usual."""
    from musicdesk.assess.predict import start_loading

    start_loading(model, device)


def _stop_network() -> None:
    if "musicdesk.assess.predict" in sys.modules:
        sys.modules["musicdesk.assess.predict"].stop_loading()


def _default_model() -> str:
    from musicdesk.assess import DEFAULT_MODEL

    return DEFAULT_MODEL


class _Calibration:
    """A teacher's calibration (--calibration FILE, or the one `musicdesk calibrate` saved), read once
    when the first take with network ratings needs it."""

    def __init__(self, path: str | None):
        self.path = path
        self._cal = None
        self._loaded = False
        self._warned = False

    def grades(self, analysis) -> dict | None:
        """The teacher-calibrated grades of an analysed take, when a calibration exists and was made
        on the same network (and the same weights of it: one made on another training of the network
        is not applied, and that is said once on stderr)."""
        if analysis.assessment is None:
            return None
        cal = self._load()
        if cal is None:
            return None
        if not cal.fits(analysis.assessment):
            if cal.on_network(analysis.assessment) and not self._warned:   # the same network, other weights
                self._warned = True
                print(f"musicdesk: the teacher calibration {self.path or 'saved by musicdesk calibrate'} was made "
                      f"on other weights of {analysis.assessment.model} (an earlier musicdesk), so its grades "
                      "are left out; run `musicdesk calibrate` again to learn from the grades with this "
                      "network.", file=sys.stderr)
            return None
        return cal.predict(_features(analysis))

    def _load(self):
        if not self._loaded:
            from musicdesk.assess.calibrate import Calibration, CalibrationError, default_path

            path = self.path or (str(default_path()) if default_path().is_file() else None)
            if path:
                try:
                    self._cal = Calibration.load(path)
                except CalibrationError as exc:
                    raise _Fatal(str(exc)) from exc
            self._loaded = True
        return self._cal


def _features(analysis):
    """Calibration features of an analysed take, from its own assessment (no second network pass)."""
    from musicdesk.assess.calibrate import take_features

    a = analysis.assessment
    return take_features(analysis, list(a.ratings.values()), a.embedding)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from musicdesk.analysis import analyze
    from musicdesk.assess import DISPLAY_NAMES
    from musicdesk.assess.calibrate import calibrate, read_grades
    from musicdesk.audio import load_take
    from musicdesk.score import load_score

    model = args.assess or _default_model()
    if args.from_history:
        return _calibrate_from_history(args, model)
    if not args.grades:
        raise _BadInput("give the grades CSV, or --from-history to learn from the practice history")
    grades = read_grades(args.grades)

    ids: set[str] = set()

    def features_of(audio: str, score_path: str, part: str | None):
        score = load_score(score_path, part=_part_arg(part))
        analysis = analyze(score, load_take(audio), assess_model=model, device=args.device)
        if analysis.assessment is None:
            raise _BadInput(analysis.assessment_error)
        ids.add(analysis.assessment.weights_id)
        return _features(analysis)

    cal = calibrate(grades, features_of, model,
                    progress=lambda i, n: print(f"analysed {i}/{n} takes", file=sys.stderr, end="\r"))
    cal.weights_id = next(iter(ids)) if len(ids) == 1 else ""
    return _save_calibration(cal, args.out, f"Calibration on {DISPLAY_NAMES[model]}")


def _save_calibration(cal, out: str | None, what: str, table=None) -> int:
    """Save a calibration (default: the user data folder) and print its cross-validated R2 per criterion
    (`table`: (criterion, takes, R2 or None when left out), default the calibration's own)."""
    from musicdesk.assess.calibrate import default_path

    out = out or str(default_path())
    try:
        cal.save(out)
    except OSError as exc:
        raise _BadInput(f"Cannot write the calibration to {out}: {exc.strerror or exc}") from exc
    print(f"{what} saved to {out}")
    print(f"{'criterion':<20} {'takes':>5} {'cross-validated R2':>19}")
    for c, n, r2 in table or [(c, m.n_takes, m.cv_r2) for c, m in cal.criteria.items()]:
        print(f"{c:<20} {n:>5} {'too few: left out' if r2 is None else f'{r2:.3f}':>19}")
    return 0


def _calibrate_from_history(args: argparse.Namespace, model: str) -> int:
    """Learn the calibration from the released grades in the history store, from the analyses stored
    with them (no take is analysed again)."""
    from musicdesk.history.review import calibrate_from_store
    from musicdesk.history.store import Store

    store = Store(args.db)
    grader = store.person(args.grader, "teacher", create=False) if args.grader else None
    result = calibrate_from_store(store, model, grader)
    if result.calibration is None:
        raise _BadInput(result.message)
    n = sum(n for _, n, r2 in result.rows if r2 is not None)
    return _save_calibration(result.calibration, args.out, f"Calibration from {n} released grades in the history,",
                             result.rows)


def _cmd_parts(args: argparse.Namespace) -> int:
    from musicdesk.score import list_parts

    for i, name in enumerate(list_parts(args.score)):
        print(f"{i}\t{name}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from musicdesk.resources import example_take_path
    from musicdesk.score import example_score_path

    ns = argparse.Namespace(score=example_score_path(), audio=[example_take_path()], part=None, tempo=None,
                            tracker=None, json=args.json, json_dir=None, all=False, quiet=False, assess=None,
                            device=None, calibration=None, a4=None)
    return _cmd_analyze(ns)


def _part_arg(part: str | None) -> str | int | None:
    if part is None:
        return None
    return int(part) if part.strip().isdigit() else part


class _BadInput(Exception):
    """Bad input found by the command line itself; the message says what to do."""


class _Fatal(_BadInput):
    """Bad input that concerns every take of a batch (a calibration, the JSON folder): stops it."""


COMMANDS = ("analyze", "calibrate", "parts", "demo", *MELODY_COMMANDS, *HISTORY_COMMANDS, *SEPARATE_COMMANDS,
            "-h", "--help")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="musicdesk", description="musicdesk: practice analysis of recorded takes.")
    sub = p.add_subparsers(dest="command")
    a = sub.add_parser("analyze", help="align a take to a score and report every note")
    a.add_argument("score", help="MusicXML, MXL, MIDI or ABC file")
    a.add_argument("audio", nargs="+", metavar="AUDIO",
                   help="WAV, FLAC, OGG or MP3 recording of one part; several takes of the same score are "
                        "analysed in one go (one line each; see --json-dir)")
    a.add_argument("--part", help="part name or 0-based index (default: the first part with notes)")
    a.add_argument("--tempo", type=float, help="tempo in quarter notes per minute (default: the score's)")
    a.add_argument("--a4", type=float, metavar="HZ", help="reference pitch: the A notes are judged against "
                   "(default 440; e.g. 415, 442)")
    a.add_argument("--tracker", help="pitch tracker (default: the benchmark's choice)")
    a.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT (one take)")
    a.add_argument("--json-dir", metavar="DIR", help="write each take's JSON report into DIR, named after "
                   "the take (take.flac -> DIR/take.json; clashing names get -2, -3, ...)")
    a.add_argument("--all", action="store_true", help="list every note, not only the problems")
    a.add_argument("--ensemble", action="store_true", help="AUDIO is the whole ensemble: separate it with the "
                   "score's parts and judge the --part from its stem")
    a.add_argument("--concert-pitch", action="store_true", help="name the notes of a transposing part at "
                   "concert pitch (default: written pitch, as the player reads; the JSON keeps both)")
    a.add_argument("--quiet", action="store_true", help="print nothing (with --json or --json-dir)")
    a.add_argument("--assess", metavar="MODEL", help="assessment network: siconvnet_delta (default), "
                   "siconvnet, jointembednet, distmatnet, pcconvnet, or none")
    a.add_argument("--device", help="where the network runs: auto (cuda, then mps, then cpu; the default), "
                   "cpu, cuda or mps (also MUSICDESK_DEVICE)")
    a.add_argument("--calibration", metavar="FILE", help="a teacher's calibration (default: the one "
                   "`musicdesk calibrate` saved, if any)")
    a.add_argument("--save", action="store_true", help="also keep each take and its analysis in the practice "
                   "history (`musicdesk history takes` lists them)")
    a.add_argument("--student", metavar="NAME", help="with --save: whose takes (default: MUSICDESK_STUDENT, "
                   "else your login name)")
    a.add_argument("--db", metavar="URL", help="with --save: the history store (default: MUSICDESK_DB, else the "
                   "file in the user data folder)")
    a.add_argument("--assignment", metavar="A", help="with --save: the takes are played for this assignment "
                   "(id or title; `musicdesk history submit` then sends them)")
    a.set_defaults(func=_cmd_analyze)
    c = sub.add_parser("calibrate", help="learn a teacher's grading from graded takes (a CSV of audio, "
                       "score, criterion, grade)")
    c.add_argument("grades", nargs="?", help="CSV with the columns audio, score, criterion, grade (and optionally "
                   "part); or --from-history")
    c.add_argument("--from-history", action="store_true", help="learn from the released grades in the practice "
                   "history instead of a CSV")
    c.add_argument("--grader", metavar="NAME", help="with --from-history: only this teacher's grades")
    c.add_argument("--db", metavar="URL", help="with --from-history: the history store")
    c.add_argument("--assess", metavar="MODEL", help="the network the calibration builds on (default siconvnet_delta)")
    c.add_argument("--device")
    c.add_argument("--out", metavar="FILE", help="where to save it (default: the user data folder)")
    c.set_defaults(func=_cmd_calibrate)
    pp = sub.add_parser("parts", help="list the parts of a score")
    pp.add_argument("score")
    pp.set_defaults(func=_cmd_parts)
    d = sub.add_parser("demo", help="analyse the bundled example take")
    d.add_argument("--json", metavar="OUT")
    d.set_defaults(func=_cmd_demo)
    from musicdesk.history.cli import add_commands as add_history
    from musicdesk.melody.cli import add_commands

    from musicdesk.separate.cli import add_commands as add_separate

    add_commands(sub)
    add_history(sub)
    add_separate(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The `musicdesk` command. With `argv` None (the console command itself) a finished command ends the
    process at once, skipping the interpreter's teardown (about 0.5 s once torch is loaded)."""
    parser = build_parser()
    as_command = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        from musicdesk.app.main import run

        return run(argv)
    args = parser.parse_args(argv)
    if as_command:   # a fresh process: the kernels compiled ahead of time start in under 1 ms
        from musicdesk.compiled import use_ahead_of_time

        use_ahead_of_time()
    rc = _run(args)
    if as_command:
        _exit_now(rc)
    return rc


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "tempo", None) is not None and not (10 <= args.tempo <= 400):
        print("musicdesk: error: --tempo must be between 10 and 400 quarter notes per minute", file=sys.stderr)
        return EXIT_BAD_INPUT
    if getattr(args, "a4", None) is not None and not (380 <= args.a4 <= 480):
        print("musicdesk: error: --a4 must be a pitch between 380 and 480 Hz (e.g. 415, 440, 442)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        print("musicdesk: error: not enough memory for this take; try a shorter recording", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:
        if is_bad_input(exc):   # e.g. a broken score, unreadable audio, an unknown tracker
            print(f"musicdesk: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if os.environ.get("MUSICDESK_DEBUG"):  # a bug of ours: one line, and the traceback only on request
            raise
        print(f"musicdesk: internal error: {type(exc).__name__}: {exc} "
              "(set MUSICDESK_DEBUG=1 for details and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


def _exit_now(rc: int) -> None:
    """Flush the output and end the process without the interpreter's teardown (what is written is
    written: the JSON files are closed by then)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # e.g. a closed pipe (`musicdesk ... | head`)
            pass
    os._exit(rc)


if __name__ == "__main__":
    sys.exit(main())
