"""`musicdesk <command>`: the command line, a stable contract for people, tests and other tools.

    musicdesk analyze SCORE AUDIO [--part P] [--tempo BPM] [--tracker NAME] [--json OUT] [--all]
                      [--assess MODEL|none] [--device auto|cpu|cuda|mps] [--calibration FILE]
    musicdesk calibrate GRADES.csv [--assess MODEL] [--out FILE]   learn a teacher's grading
    musicdesk parts SCORE
    musicdesk demo            analyse the bundled example take against the bundled example score
    musicdesk attributes | vary | inpaint MELODY ...   the melody lab (musicdesk/melody/cli.py)
    musicdesk [SCORE] [--part P] [--take AUDIO] [--screenshot PNG]   open the window

Bad input gets a one-line error on stderr and exit status 2 (never a traceback).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Sequence

from musicdesk.melody.cli import COMMANDS as MELODY_COMMANDS

EXIT_BAD_INPUT = 2


def format_report(analysis, score, take_path: str, show_all: bool = False, calibrated: dict | None = None) -> str:
    """The readable report printed by `musicdesk analyze`."""
    from musicdesk.describe import describe_note, fmt_beat as _fmt_beat, note_name

    rep = analysis.report
    s = rep.summary
    lines = [f"Score: {score.title or os.path.basename(score.source_path)} - part {score.part}, "
             f"{s['n_notes']} notes, score tempo {score.tempo_bpm:.0f} bpm"
             + (f", played at about {s['played_tempo_bpm']:.0f} bpm" if s["played_tempo_bpm"] else ""),
             f"Take:  {os.path.basename(take_path)}, tracker {analysis.contour.tracker}"]
    for w in rep.warnings:
        lines.append(f"Note:  {w}")
    rows = [(r, describe_note(r)) for r in rep.notes]
    rows = [(r, d) for r, d in rows if show_all or d]
    if rows:
        lines.append("")
        lines.append(f"{'bar':>4} {'beat':>5}  {'note':<5} what happened")
        for r, d in rows:
            lines.append(f"{r.measure:>4} {_fmt_beat(r.beat):>5}  {note_name(r.expected_midi):<5} {d or 'ok'}")
    else:
        lines.append("\nEvery note was right, in tune and on time.")
    if rep.extra_notes:
        lines.append("")
        lines.append("Extra notes (not in the score): " + ", ".join(
            f"{e.onset_s:.2f} s {note_name(e.midi) if e.midi is not None else '?'}" for e in rep.extra_notes))
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
    from musicdesk.analysis import analyze
    from musicdesk.audio import load_take
    from musicdesk.score import load_score

    t0 = time.perf_counter()
    score = load_score(args.score, part=_part_arg(args.part), tempo_bpm=args.tempo)
    take = load_take(args.audio)
    kwargs = {"tracker": args.tracker} if args.tracker else {}
    model = None if (args.assess or "").lower() == "none" else (args.assess or _default_model())
    analysis = analyze(score, take, assess_model=model, device=args.device, **kwargs)
    calibrated = _calibrated(args, analysis, score) if model else None
    if args.json:
        out = analysis.report.to_json_dict()
        if analysis.assessment is not None:
            out["assessment"] = analysis.assessment.to_json_dict()
            if calibrated:
                out["assessment"]["teacher_calibrated"] = {k: round(v, 3) for k, v in calibrated.items()}
        elif analysis.assessment_error:
            out["assessment"] = {"model": model, "error": analysis.assessment_error}
        out["score"] = {"path": os.path.abspath(args.score), "part": score.part, "title": score.title,
                        "tempo_bpm": score.tempo_bpm}
        out["take"] = {"path": os.path.abspath(args.audio), "duration_s": round(take.duration_s, 3)}
        out["timings_s"] = {k: round(v, 4) for k, v in analysis.timings_s.items()}
        out["timings_s"]["total"] = round(time.perf_counter() - t0, 4)
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(out, fh, indent=1)
        except OSError as exc:
            raise _BadInput(f"Cannot write the JSON report to {args.json}: {exc.strerror or exc}") from exc
    if not args.quiet:
        print(format_report(analysis, score, args.audio, show_all=args.all, calibrated=calibrated))
    return 0


def _default_model() -> str:
    from musicdesk.assess import DEFAULT_MODEL

    return DEFAULT_MODEL


def _calibrated(args: argparse.Namespace, analysis, score) -> dict | None:
    """The teacher-calibrated grades of this take, when a calibration exists (--calibration, or the one
    `musicdesk calibrate` saved) and was made on the same network."""
    from musicdesk.assess.calibrate import Calibration, CalibrationError, default_path

    path = args.calibration or (str(default_path()) if default_path().is_file() else None)
    if not path or analysis.assessment is None:
        return None
    try:
        cal = Calibration.load(path)
    except CalibrationError as exc:
        raise _BadInput(str(exc)) from exc
    from musicdesk.assess import DISPLAY_NAMES

    if DISPLAY_NAMES.get(cal.model) != analysis.assessment.model:
        return None
    return cal.predict(_features(analysis))


def _features(analysis):
    """Calibration features of an analysed take, from its own assessment (no second network pass)."""
    from musicdesk.assess.calibrate import take_features

    a = analysis.assessment
    return take_features(analysis, list(a.ratings.values()), a.embedding)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from musicdesk.analysis import analyze
    from musicdesk.assess import DISPLAY_NAMES
    from musicdesk.assess.calibrate import calibrate, default_path, read_grades
    from musicdesk.audio import load_take
    from musicdesk.score import load_score

    grades = read_grades(args.grades)
    model = args.assess or _default_model()

    def features_of(audio: str, score_path: str, part: str | None):
        score = load_score(score_path, part=_part_arg(part))
        analysis = analyze(score, load_take(audio), assess_model=model, device=args.device)
        if analysis.assessment is None:
            raise _BadInput(analysis.assessment_error)
        return _features(analysis)

    cal = calibrate(grades, features_of, model,
                    progress=lambda i, n: print(f"analysed {i}/{n} takes", file=sys.stderr, end="\r"))
    out = args.out or str(default_path())
    try:
        cal.save(out)
    except OSError as exc:
        raise _BadInput(f"Cannot write the calibration to {out}: {exc.strerror or exc}") from exc
    print(f"Calibration on {DISPLAY_NAMES[model]} saved to {out}")
    print(f"{'criterion':<20} {'takes':>5} {'cross-validated R2':>19}")
    for c, m in cal.criteria.items():
        print(f"{c:<20} {m.n_takes:>5} {m.cv_r2:>19.3f}")
    return 0


def _cmd_parts(args: argparse.Namespace) -> int:
    from musicdesk.score import list_parts

    for i, name in enumerate(list_parts(args.score)):
        print(f"{i}\t{name}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from musicdesk.resources import example_take_path
    from musicdesk.score import example_score_path

    ns = argparse.Namespace(score=example_score_path(), audio=example_take_path(), part=None, tempo=None,
                            tracker=None, json=args.json, all=False, quiet=False, assess=None, device=None,
                            calibration=None)
    return _cmd_analyze(ns)


def _part_arg(part: str | None) -> str | int | None:
    if part is None:
        return None
    return int(part) if part.strip().isdigit() else part


class _BadInput(Exception):
    pass


COMMANDS = ("analyze", "calibrate", "parts", "demo", *MELODY_COMMANDS, "-h", "--help")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="musicdesk", description="musicdesk: practice analysis of recorded takes.")
    sub = p.add_subparsers(dest="command")
    a = sub.add_parser("analyze", help="align a take to a score and report every note")
    a.add_argument("score", help="MusicXML, MXL, MIDI or ABC file")
    a.add_argument("audio", help="WAV, FLAC, OGG or MP3 recording of one part")
    a.add_argument("--part", help="part name or 0-based index (default: the first part with notes)")
    a.add_argument("--tempo", type=float, help="tempo in quarter notes per minute (default: the score's)")
    a.add_argument("--tracker", help="pitch tracker (default: the benchmark's choice)")
    a.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    a.add_argument("--all", action="store_true", help="list every note, not only the problems")
    a.add_argument("--quiet", action="store_true", help="print nothing (with --json)")
    a.add_argument("--assess", metavar="MODEL", help="assessment network: siconvnet_delta (default), "
                   "siconvnet, jointembednet, distmatnet, pcconvnet, or none")
    a.add_argument("--device", help="where the network runs: auto (cuda, then mps, then cpu; the default), "
                   "cpu, cuda or mps (also MUSICDESK_DEVICE)")
    a.add_argument("--calibration", metavar="FILE", help="a teacher's calibration (default: the one "
                   "`musicdesk calibrate` saved, if any)")
    a.set_defaults(func=_cmd_analyze)
    c = sub.add_parser("calibrate", help="learn a teacher's grading from graded takes (a CSV of audio, "
                       "score, criterion, grade)")
    c.add_argument("grades", help="CSV with the columns audio, score, criterion, grade (and optionally part)")
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
    from musicdesk.melody.cli import add_commands

    add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from musicdesk.analysis import AnalysisError
    from musicdesk.assess.calibrate import CalibrationError
    from musicdesk.assess.weights import ModelError
    from musicdesk.audio import AudioError
    from musicdesk.melody.tokens import MelodyError
    from musicdesk.score import ScoreError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        from musicdesk.app.main import run

        return run(argv)
    args = parser.parse_args(argv)
    if getattr(args, "tempo", None) is not None and not (10 <= args.tempo <= 400):
        print("musicdesk: error: --tempo must be between 10 and 400 quarter notes per minute", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except (ScoreError, AudioError, AnalysisError, CalibrationError, MelodyError, ModelError, _BadInput) as exc:
        print(f"musicdesk: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:  # e.g. an unknown tracker name
        print(f"musicdesk: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        print("musicdesk: error: not enough memory for this take; try a shorter recording", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug of ours: one line, and the traceback only on request
        if os.environ.get("MUSICDESK_DEBUG"):
            raise
        print(f"musicdesk: internal error: {type(exc).__name__}: {exc} "
              "(set MUSICDESK_DEBUG=1 for details and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
